"""Volume nodes <-> SimpleITK images, geometry exact (LPS in the core, RAS in the scene)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import vtk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.geometry import ijk_to_ras
from SacralTumorAILib.vtk_images import array_from_image_data, fill_image_data, numpy_matrix, sitk_image, vtk_matrix


def add_volume_node(scene, image: sitk.Image, name: str, labelmap: bool = False):
    """Add ``image`` to ``scene`` as a scalar (or labelmap) volume node with display nodes; return it.

    The voxels are prepared before the node is added, so a failure leaves the scene untouched.
    """
    image_data = vtk.vtkImageData()
    fill_image_data(image_data, sitk.GetArrayViewFromImage(image))
    matrix = vtk_matrix(ijk_to_ras(image))
    node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(node_class, name)
    node.SetIJKToRASMatrix(matrix)
    node.SetAndObserveImageData(image_data)
    node.CreateDefaultDisplayNodes()
    return node


def world_ijk_to_ras(node) -> np.ndarray:
    """The node's voxel -> world RAS matrix, including a linear parent transform."""
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ijk_to_local = numpy_matrix(matrix)
    transform = node.GetParentTransformNode()
    if transform is None:
        return ijk_to_local
    if not transform.IsTransformToWorldLinear():
        raise SacralTumorAIError(
            f"volume '{node.GetName()}' is under a non-linear transform; harden or remove it first"
        )
    to_world = vtk.vtkMatrix4x4()
    transform.GetMatrixTransformToWorld(to_world)
    return numpy_matrix(to_world) @ ijk_to_local


def image_from_volume_node(node) -> sitk.Image:
    """The volume's voxels and world geometry as a SimpleITK image (LPS)."""
    if node is None:
        raise SacralTumorAIError("no input volume selected")
    image_data = node.GetImageData()
    if image_data is None or min(image_data.GetDimensions()) < 1:
        raise SacralTumorAIError(f"volume '{node.GetName()}' has no image data")
    try:
        array = array_from_image_data(image_data)
    except ValueError as error:
        raise SacralTumorAIError(f"volume '{node.GetName()}': {error}") from error
    return sitk_image(array, world_ijk_to_ras(node))

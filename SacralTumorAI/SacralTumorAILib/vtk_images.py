"""SimpleITK images <-> VTK image data, with the voxel -> RAS geometry carried exactly."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import vtk
from vtk.util import numpy_support

from sacral_tumor_ai.geometry import geometry_from_ijk_to_ras, ijk_to_ras


def vtk_matrix(matrix: np.ndarray) -> vtk.vtkMatrix4x4:
    result = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            result.SetElement(row, column, float(matrix[row, column]))
    return result


def numpy_matrix(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def fill_image_data(image_data: vtk.vtkImageData, array: np.ndarray) -> None:
    """Put a (k, j, i)-ordered numpy array into ``image_data`` (origin 0, spacing 1: geometry lives in the
    node's or oriented image's matrix, as Slicer expects)."""
    depth, height, width = array.shape
    image_data.SetOrigin(0.0, 0.0, 0.0)
    image_data.SetSpacing(1.0, 1.0, 1.0)
    image_data.SetDimensions(width, height, depth)
    scalars = numpy_support.numpy_to_vtk(np.ascontiguousarray(array).ravel(), deep=True)
    scalars.SetName("ImageScalars")
    image_data.GetPointData().SetScalars(scalars)


def array_from_image_data(image_data: vtk.vtkImageData) -> np.ndarray:
    """The scalars of ``image_data`` as a (k, j, i) numpy array (a copy)."""
    width, height, depth = image_data.GetDimensions()
    scalars = image_data.GetPointData().GetScalars()
    if scalars is None or scalars.GetNumberOfComponents() != 1:
        raise ValueError("image data has no single-component scalars")
    return numpy_support.vtk_to_numpy(scalars).reshape(depth, height, width).copy()


def sitk_image(array: np.ndarray, ijk_to_ras_matrix: np.ndarray) -> sitk.Image:
    """A SimpleITK image (LPS) from a (k, j, i) array and its voxel -> RAS matrix."""
    image = sitk.GetImageFromArray(array)
    size = tuple(int(v) for v in image.GetSize())
    geometry_from_ijk_to_ras(ijk_to_ras_matrix, size).apply_to(image)
    return image


def oriented_image_from_sitk(image: sitk.Image) -> "slicer.vtkOrientedImageData":  # noqa: F821
    """A Slicer ``vtkOrientedImageData`` holding ``image``'s voxels and geometry."""
    import slicer

    oriented = slicer.vtkOrientedImageData()
    fill_image_data(oriented, sitk.GetArrayViewFromImage(image))
    oriented.SetImageToWorldMatrix(vtk_matrix(ijk_to_ras(image)))
    return oriented


def sitk_from_oriented_image(oriented) -> sitk.Image:
    """The inverse of :func:`oriented_image_from_sitk` (extents starting at 0 are assumed)."""
    if any(oriented.GetExtent()[axis * 2] != 0 for axis in range(3)):
        raise ValueError("oriented image extent must start at 0; resample it to a reference first")
    matrix = vtk.vtkMatrix4x4()
    oriented.GetImageToWorldMatrix(matrix)
    return sitk_image(array_from_image_data(oriented), numpy_matrix(matrix))


def geometry_only(image: sitk.Image) -> "slicer.vtkOrientedImageData":  # noqa: F821
    """An oriented image with ``image``'s grid but no voxels, to tell Slicer which geometry to use."""
    import slicer

    oriented = slicer.vtkOrientedImageData()
    width, height, depth = image.GetSize()
    oriented.SetExtent(0, width - 1, 0, height - 1, 0, depth - 1)
    oriented.SetImageToWorldMatrix(vtk_matrix(ijk_to_ras(image)))
    return oriented


__all__ = [
    "array_from_image_data",
    "fill_image_data",
    "geometry_only",
    "numpy_matrix",
    "oriented_image_from_sitk",
    "sitk_from_oriented_image",
    "sitk_image",
    "vtk_matrix",
]

"""Labelmaps (core) <-> segmentation nodes with named, coloured, coded segments; .seg.nrrd files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import vtk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.geometry import Geometry, geometry_difference
from sacral_tumor_ai.io import atomic_output, write_image
from sacral_tumor_ai.labels import LABELS, Label
from SacralTumorAILib.terminology import coded_type, terminology_string
from SacralTumorAILib.vtk_images import geometry_only, oriented_image_from_sitk, sitk_from_oriented_image

GEOMETRY_TOLERANCE = 1e-6


def _reference_geometry_string(image: sitk.Image) -> str:
    import slicer

    return slicer.vtkSegmentationConverter.SerializeImageGeometry(geometry_only(image))


def build_segmentation_node(
    labelmap: sitk.Image, name: str, labels: Sequence[Label] = LABELS, include_empty: bool = False
):
    """A segmentation node, not yet in any scene, with one segment per label present in ``labelmap``.

    Segment IDs are the label names (``tumor``, ``hip_left`` ...), segment names the display names, and each
    segment carries the label's colour and standard terminology. The reference geometry is the labelmap's.
    """
    import slicer

    array = sitk.GetArrayViewFromImage(labelmap)
    unknown = sorted(set(np.unique(array).tolist()) - {0} - {label.value for label in labels})
    if unknown:
        raise SacralTumorAIError(f"labelmap holds values {unknown} that are not in the label table")
    node = slicer.vtkMRMLSegmentationNode()
    node.SetName(name)
    node.SetSourceRepresentationToBinaryLabelmap()
    segmentation = node.GetSegmentation()
    segmentation.SetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
        _reference_geometry_string(labelmap),
    )
    for label in labels:
        mask = (array == label.value).astype(np.uint8)
        if not include_empty and not mask.any():
            continue
        binary = sitk.GetImageFromArray(mask)
        binary.CopyInformation(labelmap)
        segment_id = node.AddSegmentFromBinaryLabelmapRepresentation(
            oriented_image_from_sitk(binary), label.display_name, list(label.color), label.name
        )
        segmentation.GetSegment(segment_id).SetTerminology(terminology_string(label))
    # One shared layer where segments do not overlap: smaller files, as the Segment Editor itself keeps them.
    segmentation.CollapseBinaryLabelmaps(False)
    return node


def add_segmentation_node(
    scene,
    labelmap: sitk.Image,
    name: str = "Segmentation",
    reference_volume=None,
    labels: Sequence[Label] = LABELS,
    include_empty: bool = False,
):
    """Add a segmentation built from ``labelmap`` to ``scene`` (see :func:`build_segmentation_node`).

    With ``reference_volume`` the segmentation references it as its source geometry and is placed beside it
    in the subject hierarchy (under the same study). The node is complete before it enters the scene.
    """
    node = build_segmentation_node(labelmap, name, labels, include_empty)
    scene.AddNode(node)
    node.CreateDefaultDisplayNodes()
    if reference_volume is not None:
        node.SetNodeReferenceID(node.GetReferenceImageGeometryReferenceRole(), reference_volume.GetID())
        place_beside(scene, node, reference_volume)
    return node


def _hierarchy_item(hierarchy, node, parent_if_new: int) -> int:
    # Desktop Slicer creates an item for every data node; bare slicer-core does not, so create it here.
    item = hierarchy.GetItemByDataNode(node)
    if not item:
        item = hierarchy.CreateItem(parent_if_new, node)
    return item


def place_beside(scene, node, sibling) -> None:
    """Put ``node`` under the same subject-hierarchy parent (patient/study) as ``sibling``."""
    import slicer

    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    root = hierarchy.GetSceneItemID()
    parent = hierarchy.GetItemParent(_hierarchy_item(hierarchy, sibling, root))
    hierarchy.SetItemParent(_hierarchy_item(hierarchy, node, parent), parent)


def find_segment_ids(node, labels: Sequence[Label] = LABELS) -> dict[str, str]:
    """Label name -> segment ID, matched by ID, then name, then terminology (a user's own segmentation may
    name segments differently but still code them)."""
    segmentation = node.GetSegmentation()
    segments = {sid: segmentation.GetSegment(sid) for sid in segmentation.GetSegmentIDs()}
    found: dict[str, str] = {}
    for label in labels:
        names = {label.name.lower(), label.display_name.lower()}
        code = (label.type.value, label.modifier.value if label.modifier else "")
        for matches in (
            lambda sid, seg: sid == label.name,
            lambda sid, seg: seg.GetName().strip().lower() in names,
            lambda sid, seg: seg.HasTerminology() and coded_type(seg.GetTerminology()) == code,
        ):
            hits = [sid for sid, seg in segments.items() if sid not in found.values() and matches(sid, seg)]
            if hits:
                found[label.name] = hits[0]
                break
    return found


def labelmap_from_segmentation_node(node, reference: sitk.Image, labels: Sequence[Label] = LABELS) -> sitk.Image:
    """The segmentation as a labelmap on ``reference``'s grid, with the label table's values.

    Reads the current segments, so manual edits are included. Overlaps are resolved in the label table's
    order (a tumour painted over bone stays tumour). Labels with no segment are absent (all zero).
    """
    segment_ids = find_segment_ids(node, labels)
    ids = vtk.vtkStringArray()
    values = vtk.vtkIntArray()
    for label in labels:
        if label.name in segment_ids:
            ids.InsertNextValue(segment_ids[label.name])
            values.InsertNextValue(label.value)
    result = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    result.CopyInformation(reference)
    if ids.GetNumberOfValues() == 0:
        return result
    import slicer

    merged = slicer.vtkOrientedImageData()
    ok = node.GenerateMergedLabelmapForAllSegments(
        merged, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY, geometry_only(reference), ids, values
    )
    if not ok:
        raise SacralTumorAIError(f"segmentation '{node.GetName()}' could not be turned into a labelmap")
    image = sitk_from_oriented_image(merged)
    if geometry_difference(image, reference) > GEOMETRY_TOLERANCE:
        raise SacralTumorAIError("merged labelmap does not match the reference geometry")
    result = sitk.Cast(image, sitk.sitkUInt8)
    Geometry.of(reference).apply_to(result)  # exact, not merely within tolerance
    return result


def save_segmentation(node, path: str | Path) -> Path:
    """Write ``node`` as a ``.seg.nrrd`` file (Slicer's format: segments, names, colours, terminology)."""
    import slicer

    path = Path(path)
    if not path.name.lower().endswith(".seg.nrrd"):
        raise ValueError(f"{path}: a segmentation file must end with .seg.nrrd")
    storage = slicer.vtkMRMLSegmentationStorageNode()
    with atomic_output(path) as temporary:
        storage.SetFileName(str(temporary))
        if not storage.WriteData(node):
            raise SacralTumorAIError(f"{path}: the segmentation could not be written")
    return path


def save_labelmap(node, reference: sitk.Image, path: str | Path, labels: Sequence[Label] = LABELS) -> Path:
    """Write the segmentation as a labelmap file (NIfTI, NRRD) on ``reference``'s grid."""
    return write_image(labelmap_from_segmentation_node(node, reference, labels), path)


def load_segmentation(scene, path: str | Path, name: str | None = None):
    """Read a ``.seg.nrrd`` file into a new segmentation node; the scene is changed only on success."""
    import slicer

    path = Path(path)
    if not path.is_file():
        raise SacralTumorAIError(f"{path}: no such file")
    node = slicer.vtkMRMLSegmentationNode()
    node.SetName(name or path.name[: -len(".seg.nrrd")])
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(path))
    # Reading creates display nodes, which needs the scene; take the node out again if reading fails.
    scene.AddNode(node)
    if not storage.ReadData(node):
        scene.RemoveNode(node)
        raise SacralTumorAIError(f"{path}: not a readable segmentation file")
    node.CreateDefaultDisplayNodes()
    return node

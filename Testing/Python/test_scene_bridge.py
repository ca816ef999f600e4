"""The scene layer on real MRML nodes (slicer-core): volumes and segmentations keep geometry and meaning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import vtk

slicer = pytest.importorskip("slicer", reason="slicer-core is part of the project's set-up")

from sacral_tumor_ai.errors import SacralTumorAIError  # noqa: E402
from sacral_tumor_ai.geometry import geometry_difference, ijk_to_ras  # noqa: E402
from sacral_tumor_ai.io import read_image  # noqa: E402
from sacral_tumor_ai.labels import LABELS  # noqa: E402
from SacralTumorAILib import (  # noqa: E402
    SacralTumorAILogic,
    add_segmentation_node,
    add_volume_node,
    image_from_volume_node,
    labelmap_from_segmentation_node,
    load_segmentation,
    save_segmentation,
)
from SacralTumorAILib.segmentations import find_segment_ids  # noqa: E402
from SacralTumorAILib.vtk_images import numpy_matrix  # noqa: E402
from conftest import block_labelmap  # noqa: E402


@pytest.fixture
def scene():
    return slicer.vtkMRMLScene()


def test_volume_round_trip_is_exact(scene, oblique_image: sitk.Image) -> None:
    node = add_volume_node(scene, oblique_image, "oblique")
    # The node holds RAS: the first two axes flip sign against the file's LPS.
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    np.testing.assert_allclose(numpy_matrix(matrix), ijk_to_ras(oblique_image), atol=1e-9)
    origin_ras = node.GetOrigin()
    lps = oblique_image.GetOrigin()
    np.testing.assert_allclose(origin_ras, (-lps[0], -lps[1], lps[2]), atol=1e-9)
    back = image_from_volume_node(node)
    assert geometry_difference(back, oblique_image) < 1e-6
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(oblique_image))
    assert node.GetDisplayNode() is not None


def test_real_ct_through_the_logic(scene, real_ct_path: Path) -> None:
    logic = SacralTumorAILogic(scene)
    node = logic.load_volume(real_ct_path)
    original = read_image(real_ct_path)
    back = image_from_volume_node(node)
    assert geometry_difference(back, original) < 1e-6
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(original))
    description = logic.describe_volume(node)
    assert description["modality"]["guess"] == "CT"
    assert node.GetAttribute("SacralTumorAI.Modality") == "CT"


def test_mr_is_refused_as_ct(scene, real_mr_path: Path) -> None:
    logic = SacralTumorAILogic(scene)
    node = logic.load_volume(real_mr_path)
    with pytest.raises(SacralTumorAIError, match="looks like MR"):
        logic.require_modality(node, "CT")


def test_linear_parent_transform_is_applied(scene, oblique_image: sitk.Image) -> None:
    node = add_volume_node(scene, oblique_image, "moved")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    shift = vtk.vtkMatrix4x4()
    shift.SetElement(0, 3, 10.0)  # 10 mm towards the patient's right (RAS +x)
    transform.SetMatrixTransformToParent(shift)
    node.SetAndObserveTransformNodeID(transform.GetID())
    moved = image_from_volume_node(node)
    expected = np.add(oblique_image.GetOrigin(), (-10.0, 0.0, 0.0))  # LPS x is minus RAS x
    np.testing.assert_allclose(moved.GetOrigin(), expected, atol=1e-9)


def test_segmentation_carries_names_colours_terminology(scene, real_ct_path: Path) -> None:
    volume = SacralTumorAILogic(scene).load_volume(real_ct_path)
    reference = image_from_volume_node(volume)
    node = add_segmentation_node(scene, block_labelmap(reference), "Result", volume)
    segmentation = node.GetSegmentation()
    assert sorted(segmentation.GetSegmentIDs()) == sorted(label.name for label in LABELS)
    for label in LABELS:
        segment = segmentation.GetSegment(label.name)
        assert segment.GetName() == label.display_name
        np.testing.assert_allclose(segment.GetColor(), label.color)
        terminology = segment.GetTerminology()
        assert f"SCT^{label.type.value}^{label.type.meaning}" in terminology
        if label.modifier:
            assert f"SCT^{label.modifier.value}^{label.modifier.meaning}" in terminology
    # Reference geometry set, and the volume referenced as the source of that geometry.
    assert node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole()) is volume
    geometry = segmentation.GetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
    )
    assert geometry.endswith("0;121;0;100;0;111;")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node)) == hierarchy.GetItemParent(
        hierarchy.GetItemByDataNode(volume)
    )


def test_labelmap_round_trip_and_files(scene, real_ct_path: Path, tmp_path: Path) -> None:
    logic = SacralTumorAILogic(scene)
    volume = logic.load_volume(real_ct_path)
    reference = image_from_volume_node(volume)
    labelmap = block_labelmap(reference)
    node = logic.add_segmentation(labelmap, volume)
    back = labelmap_from_segmentation_node(node, reference)
    assert geometry_difference(back, reference) == 0.0
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(labelmap))

    exported = logic.export_segmentation(node, volume, tmp_path, "case")
    from_nifti = read_image(exported.labelmap_file)
    assert geometry_difference(from_nifti, reference) < 1e-6
    np.testing.assert_array_equal(sitk.GetArrayFromImage(from_nifti), sitk.GetArrayFromImage(labelmap))
    reloaded = load_segmentation(scene, exported.segmentation_file)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(labelmap_from_segmentation_node(reloaded, reference)),
        sitk.GetArrayFromImage(labelmap),
    )
    assert reloaded.GetSegmentation().GetSegment("hip_left").GetTerminology() == (
        node.GetSegmentation().GetSegment("hip_left").GetTerminology()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.nii.gz", "case.seg.nrrd"]


def test_user_renamed_segments_are_found_by_terminology(scene, real_ct_path: Path) -> None:
    reference = read_image(real_ct_path)
    node = add_segmentation_node(scene, block_labelmap(reference))
    segmentation = node.GetSegmentation()
    segmentation.GetSegment("tumor").SetName("lesion drawn by Dr X")
    # A segment the user added keeps the other IDs from being confused.
    segmentation.AddEmptySegment("extra", "Notes")
    found = find_segment_ids(node)
    assert found["tumor"] == "tumor" and "extra" not in found.values()
    # A segment drawn from scratch in the Segment Editor: generic ID and name, tumour terminology chosen.
    coded = segmentation.GetSegment("tumor").GetTerminology()
    segmentation.RemoveSegment("tumor")
    segmentation.AddEmptySegment("Segment_7", "lesion")
    segmentation.GetSegment("Segment_7").SetTerminology(coded)
    assert find_segment_ids(node)["tumor"] == "Segment_7"


def test_empty_segmentation_gives_empty_labelmap(scene, real_ct_path: Path) -> None:
    reference = read_image(real_ct_path)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    labelmap = labelmap_from_segmentation_node(node, reference)
    assert sitk.GetArrayViewFromImage(labelmap).max() == 0


def test_failures_leave_the_scene_and_folder_as_they_were(scene, real_ct_path: Path, tmp_path: Path) -> None:
    reference = read_image(real_ct_path)
    before = scene.GetNumberOfNodes()
    bad = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    bad.CopyInformation(reference)
    bad[5, 5, 5] = 9  # not in the label table
    with pytest.raises(SacralTumorAIError, match="not in the label table"):
        add_segmentation_node(scene, bad)
    broken = tmp_path / "broken.seg.nrrd"
    broken.write_text("not a segmentation")
    with pytest.raises(SacralTumorAIError, match="not a readable segmentation"):
        load_segmentation(scene, broken)
    assert scene.GetNumberOfNodes() == before
    node = add_segmentation_node(scene, block_labelmap(reference))
    with pytest.raises(ValueError):
        save_segmentation(node, tmp_path / "result.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.seg.nrrd"]

"""The core's .seg.nrrd files open in Slicer (slicer-core) as named, coloured, coded segments, and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.geometry import geometry_difference
from sacral_tumor_ai.io import read_image, read_seg_nrrd, write_seg_nrrd
from sacral_tumor_ai.labels import LABELS, TUMOR, terminology_string

slicer = pytest.importorskip("slicer")

from conftest import block_labelmap  # noqa: E402
from SacralTumorAILib import add_segmentation_node, labelmap_from_segmentation_node, load_segmentation, save_segmentation  # noqa: E402


@pytest.fixture
def labelmap(real_ct_path: Path) -> sitk.Image:
    # No right hip bone: a label absent from the labelmap must give no segment.
    return block_labelmap(read_image(real_ct_path), omit=("hip_right",))


def test_core_terminology_matches_slicer_serialiser() -> None:
    logic = slicer.vtkSlicerTerminologiesModuleLogic
    for label in LABELS:
        modifier = label.modifier
        expected = logic.SerializeTerminologyEntry(
            "Segmentation category and type - 3D Slicer General Anatomy list",
            label.category.value, label.category.scheme, label.category.meaning,
            label.type.value, label.type.scheme, label.type.meaning,
            modifier.value if modifier else "", modifier.scheme if modifier else "", modifier.meaning if modifier else "",
            "Anatomic codes - DICOM master list", "", "", "", "", "", "",
        )
        assert terminology_string(label) == expected


def test_core_file_opens_in_slicer(labelmap: sitk.Image, tmp_path: Path) -> None:
    path = write_seg_nrrd(labelmap, tmp_path / "result.seg.nrrd")
    scene = slicer.vtkMRMLScene()
    node = load_segmentation(scene, path)
    segmentation = node.GetSegmentation()
    assert sorted(segmentation.GetSegmentIDs()) == ["hip_left", "sacrum", "tumor"]
    tumour = segmentation.GetSegment("tumor")
    assert tumour.GetName() == "Tumor" and "SCT^86049000^Neoplasm" in tumour.GetTerminology()
    np.testing.assert_allclose(tumour.GetColor(), TUMOR.color, atol=1e-6)
    back = labelmap_from_segmentation_node(node, labelmap)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(labelmap))


def test_slicer_file_reads_in_the_core(labelmap: sitk.Image, tmp_path: Path) -> None:
    scene = slicer.vtkMRMLScene()
    node = add_segmentation_node(scene, labelmap)
    path = save_segmentation(node, tmp_path / "slicer.seg.nrrd")
    back = read_seg_nrrd(path)
    assert geometry_difference(back, labelmap) < 1e-6
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(labelmap))
    ours = read_seg_nrrd(write_seg_nrrd(labelmap, tmp_path / "core.seg.nrrd"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(labelmap))


@pytest.mark.parametrize("pixel_type", [sitk.sitkUInt8, sitk.sitkInt16])
def test_writing_leaves_the_labelmap_as_it_was(labelmap: sitk.Image, tmp_path: Path, pixel_type: int) -> None:
    # The uint8 labelmap lends its header for the write: afterwards it must hold exactly its own fields again.
    labelmap = sitk.Cast(labelmap, pixel_type)
    labelmap.SetMetaData("Segment0_ID", "the caller's own field")
    before = {key: labelmap.GetMetaData(key) for key in labelmap.GetMetaDataKeys()}
    path = write_seg_nrrd(labelmap, tmp_path / "result.seg.nrrd")
    assert {key: labelmap.GetMetaData(key) for key in labelmap.GetMetaDataKeys()} == before
    written = sitk.ReadImage(str(path))
    assert written.GetMetaData("Segment0_ID") in {label.name for label in LABELS} and written.GetPixelID() == sitk.sitkUInt8

"""The Slicer module's Logic end to end on real MRML nodes (slicer-core): load the bundled real CT, Segment,
hip frame, Classify, export (DICOM SEG read back with highdicom), and the bad-input paths."""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

slicer = pytest.importorskip("slicer", reason="slicer-core is part of the project's set-up")

import highdicom as hd  # noqa: E402

from sacral_tumor_ai.demo import bundled_model_path, demo_case_path  # noqa: E402
from sacral_tumor_ai.errors import CancelledError, ModalityError, SacralTumorAIError  # noqa: E402
from sacral_tumor_ai.geometry import geometry_difference  # noqa: E402
from sacral_tumor_ai.labels import LABELS, TUMOR, terminology_string  # noqa: E402
from sacral_tumor_ai.models.package import ModelPackageError  # noqa: E402
from SacralTumorAILib import SacralTumorAILogic, image_from_volume_node  # noqa: E402
from SacralTumorAILib.logic import CHART_ROLE, FRAME_ROLE, LOCATION_ROLE, PROBABILITIES_ROLE, SOURCE_FILES_ATTRIBUTE  # noqa: E402
from SacralTumorAILib.results_export import STALE_WARNING  # noqa: E402
from SacralTumorAILib.segment_job import SegmentationInputs, SegmentationOptions  # noqa: E402
from SacralTumorAILib.segmentations import find_segment_ids  # noqa: E402


def _node_ids(scene) -> set[str]:
    nodes = scene.GetNodes()
    return {nodes.GetItemAsObject(i).GetID() for i in range(nodes.GetNumberOfItems())}


@pytest.fixture(scope="module")
def segmented():
    """One scene with the bundled case segmented (the slow step, shared by the tests that read it)."""
    scene = slicer.vtkMRMLScene()
    logic = SacralTumorAILogic(scene)
    volume = logic.load_volume(demo_case_path())
    outcome = logic.segment(SegmentationInputs(ct=volume))
    return scene, logic, volume, outcome


def _erase_tumour_half(segmentation_node, volume) -> None:
    """A manual correction: the tumour's lower half erased, as with the Segment Editor's eraser."""
    from SacralTumorAILib.vtk_images import oriented_image_from_sitk

    segment_id = find_segment_ids(segmentation_node)["tumor"]
    labelmap = SacralTumorAILogic(segmentation_node.GetScene()).current_labelmap(segmentation_node, volume)
    array = sitk.GetArrayFromImage(labelmap)
    tumour = array == TUMOR.value
    slices = np.flatnonzero(tumour.any(axis=(1, 2)))
    keep = tumour.copy()
    keep[: slices[len(slices) // 2]] = False
    mask = sitk.GetImageFromArray(keep.astype(np.uint8))
    mask.CopyInformation(labelmap)
    slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(
        oriented_image_from_sitk(mask), segmentation_node, segment_id, slicer.vtkSlicerSegmentationsModuleLogic.MODE_REPLACE
    )


def test_segment_adds_one_segmentation_with_terminology_geometry_and_location(segmented) -> None:
    scene, logic, volume, outcome = segmented
    node = outcome.segmentation_node
    assert outcome.reference_volume is volume
    segmentation = node.GetSegmentation()
    ids = find_segment_ids(node)
    assert set(ids) == {label.name for label in LABELS}
    for label in LABELS:
        segment = segmentation.GetSegment(ids[label.name])
        assert segment.GetName() == label.display_name
        assert segment.GetTerminology() == terminology_string(label)
        np.testing.assert_allclose(segment.GetColor(), label.color, atol=1e-3)
    labelmap = logic.current_labelmap(node, volume)
    assert geometry_difference(labelmap, image_from_volume_node(volume)) < 1e-6
    counts = np.bincount(sitk.GetArrayViewFromImage(labelmap).ravel(), minlength=5)
    assert all(counts[label.value] > 1000 for label in LABELS)  # the model found every structure
    assert outcome.result["volumes_ml"]["tumor"] > 20
    assert node.GetNodeReference(FRAME_ROLE).GetNumberOfControlPoints() >= 4
    assert node.GetNodeReference(LOCATION_ROLE).GetNumberOfRows() > 5
    assert outcome.location.location["available"] and outcome.location.location["enneking_zones"]
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1


def test_classify_reads_the_corrected_segmentation_and_replaces_its_nodes(segmented, tmp_path: Path) -> None:
    scene, logic, volume, outcome = segmented
    node = outcome.segmentation_node
    unclassified = logic.results_fingerprint(node, volume)
    first = logic.classify(node, volume, {"age": 58, "sex": "M"})
    classified = logic.results_fingerprint(node, volume)
    assert classified != unclassified and logic.results_fingerprint(node, volume) == classified
    probabilities = first.classification["probabilities"]
    assert len(probabilities) == 6 and abs(sum(probabilities.values()) - 1) < 1e-3
    assert first.table_node.GetNumberOfRows() == 6
    assert first.chart_node.GetNumberOfPlotSeriesNodes() == 1
    assert first.classification["clinical_used"] == {"age": 58.0, "sex": "M"}

    _erase_tumour_half(node, volume)
    assert logic.results_fingerprint(node, volume) != classified  # an edit makes earlier exports out of date
    exported = logic.export_results(node, volume, tmp_path / "edited", "case", dicom=False)
    assert exported.document["classification"]["stale"] and STALE_WARNING in exported.document["warnings"]

    tables_before = scene.GetNumberOfNodesByClass("vtkMRMLTableNode")
    second = logic.classify(node, volume, {"age": 58, "sex": "M"})
    assert second.location.location["volume_ml"] < 0.8 * first.location.location["volume_ml"]  # recomputed, not stale
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == tables_before  # replaced, not piled up
    assert scene.GetNumberOfNodesByClass("vtkMRMLPlotChartNode") == 1
    assert node.GetNodeReference(PROBABILITIES_ROLE) is second.table_node
    assert node.GetNodeReference(CHART_ROLE) is second.chart_node
    assert not logic.export_results(node, volume, tmp_path / "fresh", "case", dicom=False).document["classification"].get("stale")


def test_export_writes_dicom_seg_json_and_csv(segmented, tmp_path: Path) -> None:
    scene, logic, volume, outcome = segmented
    node = outcome.segmentation_node
    logic.classify(node, volume, {"age": 40})
    exported = logic.export_results(node, volume, tmp_path, "case")
    assert exported.segmentation_file.name == "case.seg.nrrd" and exported.labelmap_file.name == "case.nii.gz"
    labelmap = sitk.ReadImage(str(exported.labelmap_file))
    document = json.loads(exported.json_file.read_text())
    assert document["classification"]["available"] and "Not for diagnosis" in document["disclaimer"]
    assert document["volumes_ml"]["tumor"] > 0 and document["location"]["available"]
    with open(tmp_path / "case_probabilities.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and abs(sum(float(r["probability"]) for r in rows) - 1) < 1e-3
    assert exported.report_file.stat().st_size > 20_000 and exported.report_file.read_bytes()[:4] == b"\x89PNG"

    # The DICOM SEG references the series written from the NIfTI volume; read both back.
    seg = hd.seg.segread(exported.dicom_seg.seg_file)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == [label.display_name for label in sorted(LABELS, key=lambda l: l.value)]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == exported.dicom_seg.referenced_series_uid
    image_files = sorted(exported.dicom_seg.written_image_files)
    assert len(image_files) == sitk.ReadImage(str(exported.labelmap_file)).GetSize()[2]
    series = sitk.ReadImage([str(f) for f in image_files])
    assert geometry_difference(series, image_from_volume_node(volume)) < 1e-3
    labels = sitk.GetArrayViewFromImage(labelmap)
    for number, label in enumerate(sorted(LABELS, key=lambda l: l.value), start=1):
        volume_of_segment = seg.get_volume(segment_numbers=[number], combine_segments=True, relabel=True)
        assert int((volume_of_segment.array > 0).sum()) == int((labels == label.value).sum()), label.name


def test_dicom_source_series_is_referenced(tmp_path: Path, real_ct_path: Path) -> None:
    """A volume loaded from a DICOM folder keeps its files; its SEG references that series, not a copy."""
    from sacral_tumor_ai.io import read_image
    from sacral_tumor_ai.io.dicom_seg import write_dicom_seg
    from conftest import block_labelmap

    image = read_image(real_ct_path)
    blocks = block_labelmap(image)
    source = write_dicom_seg(blocks, tmp_path / "source", image=image)  # makes a DICOM series of the real CT
    scene = slicer.vtkMRMLScene()
    logic = SacralTumorAILogic(scene)
    volume = logic.load_volume(tmp_path / "source" / "image")
    assert len(json.loads(volume.GetAttribute(SOURCE_FILES_ATTRIBUTE))) == image.GetSize()[2]
    segmentation = logic.add_segmentation(blocks, volume)
    exported = logic.export_results(segmentation, volume, tmp_path / "out", "dicom", dicom=True)
    assert exported.dicom_seg.written_image_files == [] and exported.dicom_seg.note == ""
    assert exported.dicom_seg.referenced_series_uid == source.referenced_series_uid
    seg = hd.seg.segread(exported.dicom_seg.seg_file)
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    import pydicom

    originals = {pydicom.dcmread(str(f), stop_before_pixels=True).SOPInstanceUID for f in source.written_image_files}
    assert referenced <= originals and referenced


def test_background_job_reports_progress_and_cancel_leaves_the_scene_as_it_was(segmented) -> None:
    scene, logic, volume, _ = segmented
    before = _node_ids(scene)
    job = logic.start_segmentation(SegmentationInputs(ct=volume))
    messages = set()
    while not job.done and len(messages) < 3:
        messages.add(job.update()[1])
        time.sleep(0.1)
    job.cancel()
    assert len(messages) >= 2
    with pytest.raises(CancelledError):
        logic.finish_segmentation(job)
    assert _node_ids(scene) == before
    assert not job.staged.folder.exists()


def test_background_job_gives_the_same_segmentation(segmented) -> None:
    scene, logic, volume, outcome = segmented
    job = logic.start_segmentation(SegmentationInputs(ct=volume))
    job.wait(600)
    assert job.progress == 1.0
    background = logic.finish_segmentation(job)
    try:
        assert background.result["volumes_ml"] == outcome.result["volumes_ml"]
    finally:
        logic.remove_segmentation(background.segmentation_node)


def test_bad_inputs_give_clear_errors_and_leave_the_scene_unchanged(segmented, real_mr_path: Path, tmp_path: Path) -> None:
    scene, logic, volume, outcome = segmented
    mr = logic.load_volume(real_mr_path)
    before = _node_ids(scene)
    with pytest.raises(SacralTumorAIError, match="no input volume selected"):
        logic.segment(SegmentationInputs())
    with pytest.raises(SacralTumorAIError, match="not both"):
        logic.segment(SegmentationInputs(ct=volume, t2=mr))
    with pytest.raises(ModalityError, match="needs a CT"):
        logic.segment(SegmentationInputs(ct=mr))  # an MRI selected as NCCT
    with pytest.raises(SacralTumorAIError, match="pelvis"):
        logic.segment(SegmentationInputs(t2=mr))  # the abdominal MR: no pelvis
    tampered = tmp_path / "ct-seg"
    shutil.copytree(bundled_model_path("ct-seg"), tampered)
    with open(tampered / "weights.safetensors", "r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"tampered")
    with pytest.raises(ModelPackageError, match="checksum|sha256"):
        logic.segment(SegmentationInputs(ct=volume), SegmentationOptions(model=str(tampered)))
    with pytest.raises(SacralTumorAIError, match="not a model package"):
        logic.segment(SegmentationInputs(ct=volume), SegmentationOptions(model=str(tmp_path / "nowhere")))
    empty = logic.add_segmentation(sitk.Image(image_from_volume_node(volume).GetSize(), sitk.sitkUInt8), volume, "empty")
    no_tumour = slicer.vtkMRMLSegmentationNode()
    scene.AddNode(no_tumour)
    after_adding = _node_ids(scene)
    with pytest.raises(SacralTumorAIError, match="no tumour segment"):
        logic.classify(no_tumour, volume)
    segment_id = find_segment_ids(empty).get("tumor")
    if segment_id:  # an empty segment: the message asks for painting
        with pytest.raises(SacralTumorAIError, match="empty"):
            logic.classify(empty, volume)
    with pytest.raises(SacralTumorAIError, match="sex"):
        logic.classify(outcome.segmentation_node, volume, {"sex": "X"})
    assert _node_ids(scene) == after_adding
    assert after_adding - before == {empty.GetID(), no_tumour.GetID()} | {n.GetID() for n in (empty.GetDisplayNode(), no_tumour.GetDisplayNode()) if n}


def test_guess_inputs_picks_the_ct_or_the_mri_sequences_by_name(real_ct_path: Path, real_mr_path: Path) -> None:
    scene = slicer.vtkMRMLScene()
    logic = SacralTumorAILogic(scene)
    t2 = logic.load_volume(real_mr_path, name="3: t2_tse_tra")
    dwi = logic.load_volume(real_mr_path, name="5: ep2d_diff_b1000")
    guessed = logic.guess_inputs()
    assert guessed.t2 is t2 and guessed.dwi is dwi and guessed.ct is None and guessed.t1 is None
    ct = logic.load_volume(real_ct_path)
    assert logic.guess_inputs().ct is ct


def test_reference_volume_of_a_segmentation(segmented) -> None:
    scene, logic, volume, outcome = segmented
    assert logic.reference_volume(outcome.segmentation_node) is volume
    orphan = slicer.vtkMRMLSegmentationNode()
    scene.AddNode(orphan)
    try:
        with pytest.raises(SacralTumorAIError, match="no reference volume"):
            logic.reference_volume(orphan)
    finally:
        scene.RemoveNode(orphan)


def test_background_classification_matches_the_in_process_one(segmented) -> None:
    scene, logic, volume, outcome = segmented
    node = outcome.segmentation_node
    direct = logic.classify(node, volume, {"age": 61, "sex": "F"})
    job = logic.start_classification(node, volume, {"age": 61, "sex": "F"})
    job.wait(300)
    background = logic.finish_classification(job)
    assert background.classification["probabilities"] == direct.classification["probabilities"]
    assert node.GetNodeReference(PROBABILITIES_ROLE) is background.table_node
    assert not job.staged.folder.exists()
    with pytest.raises(SacralTumorAIError, match="sex"):
        logic.start_classification(node, volume, {"sex": "unknown"})  # refused before any process starts


def test_a_dicom_dwi_with_several_b_values_loads_its_b1000_images(tmp_path: Path) -> None:
    from conftest import write_dwi_series
    from SacralTumorAILib.logic import READ_NOTE_ATTRIBUTE

    write_dwi_series(tmp_path / "dwi", (0, 500, 1000))  # 6 positions x 3 b-values, interleaved
    logic = SacralTumorAILogic(slicer.vtkMRMLScene())
    with pytest.raises(SacralTumorAIError, match="18 images at only 6 slice positions"):
        logic.load_volume(tmp_path / "dwi")  # not said to be a DWI: refused, not read as 18 slices
    node = logic.load_volume(tmp_path / "dwi", sequence="dwi")
    assert node.GetImageData().GetDimensions() == (32, 32, 6)
    assert "using b = 1000 (of b = 0, 500, 1000)" in node.GetAttribute(READ_NOTE_ATTRIBUTE)
    sources = json.loads(node.GetAttribute(SOURCE_FILES_ATTRIBUTE))  # what a DICOM SEG would reference
    assert sorted(Path(f).name for f in sources) == [f"{3 * z + 2:03d}.dcm" for z in range(6)]

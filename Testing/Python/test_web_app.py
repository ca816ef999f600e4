"""The browser app end to end in Debian's headless Chromium (Playwright): start the server on the bundled case,
Segment, see the segments, erase part of the tumour with trame-slicer's Segment Editor, Classify, download
and read back; and the bad inputs. Screenshots go to Testing/artifacts/web/."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("trame_slicer", reason="trame-slicer is part of the project's set-up")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is part of the project's set-up")

from SacralTumorAIWeb.server_process import CHROMIUM, CHROMIUM_FLAGS, start_server  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
SEGMENT_TIMEOUT_MS = 600_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``sacral-tumor-ai web`` on the bundled case, as a user starts it; yields (url, work folder, log)."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: scripts/setup.sh installs it (apt-get install chromium)")
    work = tmp_path_factory.mktemp("web-work")
    log = tmp_path_factory.mktemp("web-log") / "server.log"
    try:
        process, url = start_server(work, log)
    except RuntimeError as error:
        pytest.fail(str(error))
    yield url, work, log
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(server[0], wait_until="networkidle")
    page.wait_for_selector("#sta-segment")
    yield page
    context.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _tumour_ml(page) -> float:
    return float(re.search(r"Tumour volume: ([\d.]+) mL", page.inner_text("#sta-location")).group(1))


def _red_pixels(path: Path) -> int:
    image = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))[..., :3].astype(int)
    return int(((image[..., 0] > 170) & (image[..., 1] < 110) & (image[..., 2] < 110)).sum())


def _red_pixels_in(page, box: dict[str, float]) -> int:
    """Tumour-red pixels in one view (``box``: its bounding box on the page), from a screenshot of that view."""
    shot = ARTIFACTS / "view.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), clip=box)
    return _red_pixels(shot)


def test_segment_correct_classify_download(page, tmp_path: Path) -> None:
    _shot(page, "1-loaded")
    before = ARTIFACTS / "1-loaded.png"
    page.click("#sta-segment")
    page.wait_for_selector("#sta-progress", timeout=20_000)  # progress shows while the page stays live
    page.wait_for_selector(".sta-segment", timeout=SEGMENT_TIMEOUT_MS)
    page.wait_for_timeout(2000)  # the views' next frames
    _shot(page, "2-segmented")
    segments = page.inner_text("#sta-segments")
    for name in ("Tumor", "Left hip bone", "Right hip bone", "Sacrum"):
        assert re.search(rf"{name}: [1-9][\d.]* mL", segments), segments
    assert "Enneking zone(s)" in page.inner_text("#sta-location")
    assert _red_pixels(ARTIFACTS / "2-segmented.png") > _red_pixels(before) + 500  # the tumour overlay is visible

    # A correction with trame-slicer's eraser on the tumour (the active segment), dragged across the axial view.
    # The drag starts only once the server has made the eraser the active effect (its button turns active):
    # on a busy 2-core machine that round trip can take longer than any fixed wait.
    page.click("button:has(.mdi-eraser)")
    page.wait_for_selector("button.v-btn--active:has(.mdi-eraser)", timeout=30_000)
    page.wait_for_timeout(500)
    view = page.query_selector_all(".image-display-area")[0].bounding_box()
    red_before_erasing = _red_pixels_in(page, view)
    y = view["y"] + 0.80 * view["height"]
    page.mouse.move(view["x"] + 0.45 * view["width"], y)
    page.wait_for_timeout(300)
    page.mouse.down()
    for step in range(40):  # slowly: the remote view forwards events as they come
        page.mouse.move(view["x"] + (0.45 + 0.006 * step) * view["width"], y)
        page.wait_for_timeout(50)
    page.mouse.up()
    deadline = time.time() + 30  # the remote view shows the erased overlay once the server has applied the strokes
    while _red_pixels_in(page, view) > red_before_erasing - 200 and time.time() < deadline:
        page.wait_for_timeout(500)
    _shot(page, "3-corrected")
    assert _red_pixels_in(page, view) < red_before_erasing - 200, "the eraser's drag left the tumour overlay as it was"
    before_ml = _tumour_ml(page)

    page.fill("#sta-age", "58")
    page.click("#sta-classify")
    page.wait_for_selector(".sta-probability", timeout=60_000)
    page.locator("#sta-probabilities").scroll_into_view_if_needed()
    _shot(page, "4-classified")
    values = [float(cell.text_content()) for cell in page.query_selector_all(".sta-value")]
    assert len(values) == 6 and abs(sum(values) - 1) < 1e-3
    assert _tumour_ml(page) < before_ml  # recomputed from the corrected segmentation

    with page.expect_download() as download:
        page.click("#sta-download-seg_nrrd")
    saved = tmp_path / "downloaded.seg.nrrd"
    download.value.save_as(saved)
    from sacral_tumor_ai.io import read_seg_nrrd

    labelmap = read_seg_nrrd(saved)
    counts = np.bincount(sitk.GetArrayViewFromImage(labelmap).ravel(), minlength=5)
    assert all(counts[1:5] > 0)
    tumour_ml = counts[1] * np.prod(labelmap.GetSpacing()) / 1000
    assert abs(tumour_ml - _tumour_ml(page)) < 0.05 * _tumour_ml(page)  # the corrected mask, not the model's
    with page.expect_download() as report:
        page.click("#sta-download-report")
    assert report.value.path().read_bytes()[:4] == b"\x89PNG"


def test_bad_uploads_and_a_second_segment_click(page, server, tmp_path: Path) -> None:
    url, work, log = server
    png = tmp_path / "photo.png"
    sitk.WriteImage(sitk.Image(8, 8, sitk.sitkUInt8), str(png))
    upload = page.locator("input#sta-upload, #sta-upload input[type=file]").first
    upload.set_input_files(str(png))
    page.wait_for_selector("#sta-error", timeout=30_000)
    assert "not a volume this app reads" in page.inner_text("#sta-error")
    corrupt = tmp_path / "scan.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"corrupt" * 100)
    upload.set_input_files(str(corrupt))
    page.wait_for_function("document.querySelector('#sta-error') && document.querySelector('#sta-error').innerText.includes('scan.nii.gz')", timeout=30_000)
    assert "demo_ct_lesion" in page.inner_text("#sta-volume")  # the loaded case is kept

    page.click("#sta-segment")
    page.wait_for_selector("#sta-cancel", timeout=20_000)
    assert page.is_disabled("#sta-segment")  # a second click cannot start another run
    page.click("#sta-cancel")
    page.wait_for_function("document.querySelector('#sta-status').innerText.includes('cancelled')", timeout=30_000)
    _shot(page, "5-cancelled")
    page.wait_for_timeout(1000)
    runs = work / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no run files left behind
    assert "demo_ct_lesion" not in log.read_text(errors="replace")  # no file names (patient data) in the log


def test_a_dicom_zip_with_several_series_is_refused(page, tmp_path: Path, real_ct_path: Path) -> None:
    import zipfile

    from sacral_tumor_ai.io import read_image
    from sacral_tumor_ai.io.dicom_seg import write_dicom_seg

    image = read_image(real_ct_path)
    empty = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(image)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(2):  # two series of the real CT, each written as a new DICOM series
            written = write_dicom_seg(empty, tmp_path / f"s{index}", image=image, description=f"series {index}")
            for file in written.written_image_files:
                zipped.write(file, f"series{index}/{file.name}")
    page.locator("input#sta-upload, #sta-upload input[type=file]").first.set_input_files(str(archive))
    page.wait_for_function("document.querySelector('#sta-error') && document.querySelector('#sta-error').innerText.includes('2 DICOM series')", timeout=60_000)
    assert "demo_ct_lesion" in page.inner_text("#sta-volume")


def test_closing_the_page_mid_run_stops_the_run_and_the_server_stays_usable(browser, server) -> None:
    url, work, _ = server
    context = browser.new_context()
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    page.click("#sta-segment")
    page.wait_for_selector("#sta-cancel", timeout=20_000)
    page.close(run_before_unload=True)  # the user closes the tab mid-run (the browser's unload event)
    context.close()
    runs = work / "runs"
    deadline = time.time() + 30
    while runs.exists() and any(runs.iterdir()) and time.time() < deadline:
        time.sleep(0.5)
    assert not runs.exists() or not any(runs.iterdir())  # the run was stopped and its files removed
    again = browser.new_page()
    again.goto(url, wait_until="networkidle")
    again.wait_for_selector("#sta-segment")
    assert not again.is_disabled("#sta-segment")  # not stuck "busy"
    again.close()


def test_a_t2_upload_with_an_added_cet1_is_segmented_by_t2_fusion(page, mri_study: dict[str, Path]) -> None:
    # Last of the browser tests: the app then holds this study instead of the demo case.
    page.locator("input#sta-upload, #sta-upload input[type=file]").first.set_input_files(str(mri_study["t2"]))
    page.wait_for_selector("#sta-sequences", timeout=60_000)  # an MRI volume: further sequences may be added
    assert "t2" in page.inner_text("#sta-volume")
    page.locator("input#sta-sequence-upload, #sta-sequence-upload input[type=file]").first.set_input_files(str(mri_study["cet1"]))
    page.wait_for_selector(".sta-sequence", timeout=60_000)
    assert "CET1-w: cet1" in page.inner_text("#sta-sequences")
    page.click("#sta-segment")
    page.wait_for_selector(".sta-segment", timeout=SEGMENT_TIMEOUT_MS)
    page.wait_for_timeout(2000)
    _shot(page, "6-mri-t2-fusion")
    assert "T2-fusion model on T2-w + CET1-w" in page.inner_text("#sta-status")
    assert re.search(r"Tumor: [1-9][\d.]* mL", page.inner_text("#sta-segments"))


@pytest.fixture
def workflow(tmp_path: Path):
    """The app's workflow on a real trame state and MRML scene, without views (upload checks only)."""
    import slicer
    from trame.app import get_server

    from SacralTumorAIWeb.workflow_logic import WorkflowLogic

    return WorkflowLogic(get_server(f"uploads-{tmp_path.name}").state, slicer.vtkMRMLScene(), None, None, tmp_path / "work", max_upload_bytes=1000)


def test_uploads_are_limited_named_safely_and_kept_inside_the_work_folder(workflow, tmp_path: Path) -> None:
    import zipfile

    from sacral_tumor_ai.errors import SacralTumorAIError

    with pytest.raises(SacralTumorAIError, match="upload limit"):
        workflow.load_upload([{"name": "big.nii.gz", "content": b"x" * 2000, "size": 2000}])
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../../escaped.dcm", b"x")
    with pytest.raises(SacralTumorAIError, match="outside the upload folder"):
        workflow.load_upload([{"name": "../../../evil.zip", "content": archive.read_bytes(), "size": archive.stat().st_size}])
    assert not (tmp_path / "escaped.dcm").exists() and not (tmp_path / "work" / "escaped.dcm").exists()
    assert not any((tmp_path / "work" / "uploads").iterdir())  # a refused upload leaves nothing behind
    assert workflow.volume is None


def test_downloads_share_one_export_until_the_mask_changes(workflow, monkeypatch: pytest.MonkeyPatch) -> None:
    import SacralTumorAILib.logic as scene_logic
    from sacral_tumor_ai.demo import demo_case_path
    from sacral_tumor_ai.labels import HIP_LEFT, TUMOR
    from SacralTumorAILib import image_from_volume_node
    from SacralTumorAILib.segmentations import add_segmentation_node

    workflow.volume = workflow.logic.load_volume(demo_case_path())  # no views here: the volume is not shown
    labels = np.zeros(tuple(reversed(image_from_volume_node(workflow.volume).GetSize())), np.uint8)
    labels[40:60, 40:60, 50:70], labels[40:60, 30:50, 80:100] = TUMOR.value, HIP_LEFT.value
    labelmap = sitk.GetImageFromArray(labels)
    labelmap.CopyInformation(image_from_volume_node(workflow.volume))
    workflow.segmentation = add_segmentation_node(workflow.logic.scene, labelmap, "Segmentation", workflow.volume)
    exports = []
    export_results = workflow.logic.export_results
    workflow.logic.export_results = lambda *args, **kwargs: exports.append(args[2]) or export_results(*args, **kwargs)
    conversions = []
    convert = scene_logic.labelmap_from_segmentation_node
    monkeypatch.setattr(scene_logic, "labelmap_from_segmentation_node", lambda *args: conversions.append(1) or convert(*args))

    nifti, document = workflow.download("nifti"), workflow.download("json")
    assert len(exports) == 1 and b'"tumor"' in document and workflow.download("report")[:4] == b"\x89PNG"
    assert len(exports) == 1  # three downloads, one export
    assert len(conversions) == 3  # one segmentation -> labelmap conversion per download (the export reuses it)
    workflow.segmentation.GetSegmentation().RemoveSegment("hip_left")  # an edit: the next download is fresh
    assert workflow.download("nifti") != nifti and len(exports) == 2 and not Path(exports[0]).exists()
    workflow._remove_results()
    assert not Path(exports[1]).exists()  # nothing is left behind with the case


def test_an_mri_study_takes_further_sequences_and_bad_ones_are_refused(workflow, mri_study: dict[str, Path], real_ct_path: Path, tmp_path: Path) -> None:
    from conftest import write_4d_dwi

    from sacral_tumor_ai.errors import SacralTumorAIError

    from sacral_tumor_ai.cli import build_parser
    from sacral_tumor_ai.cli_segmentation import mri_inputs

    # `sacral-tumor-ai web --t2 FILE --cet1 FILE` opens the study with T2-w shown (here without views).
    arguments = build_parser().parse_args(["web", "--t2", str(mri_study["t2"]), "--cet1", str(mri_study["cet1"])])
    workflow.load_study(mri_inputs(arguments))
    assert workflow.state.sta_input_kind == "t2" and workflow.volume.GetName() == "t2" and list(workflow.sequences) == ["cet1"]

    # A new case replaces the study; then CET1-w shown and T2-w added, as a user may upload them.
    scene = workflow.logic.scene
    workflow.load_path(mri_study["cet1"], "cet1")
    assert workflow.sequences == {} and scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 1
    workflow.add_sequence_path(mri_study["t2"], "t2")
    assert [row["kind"] for row in workflow.state.sta_sequences] == ["t2"]
    nodes = scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    with pytest.raises(SacralTumorAIError, match="looks like CT"):
        workflow.add_sequence_path(real_ct_path, "dwi")
    with pytest.raises(SacralTumorAIError, match="open volume is the CET1-w"):
        workflow.add_sequence_path(mri_study["t1"], "cet1")
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == nodes  # nothing half-added

    workflow.state.sta_input_kind = "t2"  # the user says the open volume is T2-w: now twice T2-w
    with pytest.raises(SacralTumorAIError, match="both the T2-w"):
        workflow._inputs()
    workflow.state.sta_input_kind = "cet1"
    inputs = workflow._inputs()
    assert inputs.cet1 is workflow.volume and inputs.t2 is workflow.sequences["t2"]

    # The Logic segments the study with T2-fusion, on the T2-w grid; that sequence then stays with the mask.
    outcome = workflow.logic.segment(inputs)
    assert outcome.result["segmentation"]["mri"]["model"] == "t2-fusion" and outcome.reference_volume is workflow.sequences["t2"]
    workflow.segmentation = outcome.segmentation_node
    volumes = scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    with pytest.raises(SacralTumorAIError, match="segmentation lies on the T2-w"):
        workflow.remove_sequence("t2")
    with pytest.raises(SacralTumorAIError, match="segmentation lies on the T2-w"):
        workflow.add_sequence_path(mri_study["t2"], "t2")  # nor replaced
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == volumes
    assert workflow._reference() is workflow.sequences["t2"] and b'"tumor"' in workflow.download("json")
    workflow._remove_results()
    workflow.remove_sequence("t2")
    assert workflow.sequences == {} and workflow.state.sta_sequences == []
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 1

    # A DWI with several b-values: its b = 1000 volume, and the page says so; opened alone, a file of several
    # volumes is taken as such a DWI (without b-values, the last volume, and that is said too).
    folder = tmp_path / "dwi"
    folder.mkdir()
    workflow.add_sequence_path(write_4d_dwi(mri_study, folder / "dwi4d.nii.gz"), "dwi")
    assert workflow.sequences["dwi"].GetImageData().GetDimensions() == sitk.ReadImage(str(mri_study["dwi"])).GetSize()
    assert "DWI: DWI with several b-values: using b = 1000" in workflow.state.sta_status
    workflow.load_path(write_4d_dwi(mri_study, folder / "unnamed.nii.gz", b_values=None))
    assert workflow.state.sta_input_kind == "dwi" and "last of its 2 volumes" in workflow.state.sta_status


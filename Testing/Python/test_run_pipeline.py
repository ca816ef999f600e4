"""The main job end to end on toy data with a model trained by the project's own trainer.

The toy model is small and briefly trained, so these tests check the pipeline's behaviour (files, geometry,
orientation, errors), not accuracy; accuracy is measured by the evaluation scripts on generated cohorts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.errors import AnatomyNotFoundError, ModalityError
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.io import read_image, read_seg_nrrd, write_image
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT
from sacral_tumor_ai.ctseg.inference import decide_labels, predict_probabilities
from sacral_tumor_ai.ctseg.postprocess import piece_maxima, tumour_pieces
from sacral_tumor_ai.ctseg.preprocess import prepare_ct
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import ModelPackageError, install_package, load_package
from sacral_tumor_ai.models.precision import inference_dtype
from sacral_tumor_ai.run import run_case
from sacral_tumor_ai.training.seg_train import SegTrainingConfig, train_segmentation
from toy_ct import TINY_CLASSIFIER, TINY_TRAINING, add_toy_clinical, toy_case, write_toy_datalist


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("toy-model")
    datalist = write_toy_datalist(folder / "data", counts=(6, 2, 0))
    config = SegTrainingConfig(datalist=str(datalist), out=str(folder / "run"), epochs=25, **TINY_TRAINING)
    return train_segmentation(config, log=lambda *_: None)


@pytest.fixture
def toy_ct(tmp_path: Path) -> Path:
    image, _ = toy_case(101)
    return write_image(image, tmp_path / "toy_ct.nii.gz")


def test_outputs_are_complete_and_consistent(toy_model: Path, toy_ct: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_case(toy_ct, out, model=toy_model)
    assert sorted(p.name for p in out.iterdir()) == ["preview.png", "result.json", "segmentation.nii.gz", "segmentation.seg.nrrd"]
    saved = json.loads((out / "result.json").read_text())
    assert saved["labels"] == {"tumor": 1, "hip_left": 2, "hip_right": 3, "sacrum": 4}
    assert saved["models"]["segmentation"]["name"] == "sacral-ct-seg"
    assert saved["segmentation"]["inference"] == {"device": "cpu", "precision": inference_dtype("cpu")}
    labelmap = read_image(out / "segmentation.nii.gz")
    image = read_image(toy_ct)
    assert labelmap.GetSize() == image.GetSize() and labelmap.GetOrigin() == image.GetOrigin()
    voxel_ml = np.prod(image.GetSpacing()) / 1000
    counts = np.bincount(sitk.GetArrayViewFromImage(labelmap).ravel(), minlength=5)
    for name, value in saved["labels"].items():
        assert saved["volumes_ml"][name] == pytest.approx(counts[value] * voxel_ml, abs=1e-3)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_seg_nrrd(out / "segmentation.seg.nrrd")), sitk.GetArrayFromImage(labelmap))
    assert result["timings_s"]["end_to_end"] > 0
    # Left is left: the hip bone labelled left lies on the patient's left (+x in LPS).
    array = sitk.GetArrayFromImage(labelmap)
    assert np.argwhere(array == HIP_LEFT.value)[:, 2].mean() > np.argwhere(array == HIP_RIGHT.value)[:, 2].mean()


@pytest.mark.parametrize(("order", "flips"), [((0, 1, 2), (True, False, False)), ((2, 1, 0), (False, True, True))])
def test_any_orientation_gives_the_same_segmentation(toy_model: Path, toy_ct: Path, tmp_path: Path, order, flips) -> None:
    """A feet-first, mirrored-storage or permuted scan is the same patient: same masks in physical space."""
    image = read_image(toy_ct)
    stored = sitk.Flip(sitk.PermuteAxes(image, list(order)), list(flips))
    reference = run_case(toy_ct, tmp_path / "a", model=toy_model)
    run_case(write_image(stored, tmp_path / "stored.nii.gz"), tmp_path / "b", model=toy_model)
    other = read_image(tmp_path / "b" / "segmentation.nii.gz")
    assert other.GetDirection() == stored.GetDirection()
    back = sitk.Resample(other, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    original = sitk.GetArrayFromImage(read_image(tmp_path / "a" / "segmentation.nii.gz"))
    moved = sitk.GetArrayFromImage(back)
    for value in (HIP_LEFT.value, HIP_RIGHT.value):
        assert dice(original == value, moved == value) > 0.97
    assert reference["volumes_ml"]["hip_left"] > 0


def test_mr_is_refused_and_nothing_written(toy_model: Path, real_mr_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ModalityError, match="looks like MR"):
        run_case(real_mr_path, tmp_path / "out", model=toy_model)
    assert not (tmp_path / "out").exists()


def test_no_pelvis_in_view(toy_model: Path, tmp_path: Path) -> None:
    image, labels = toy_case(7)
    array = sitk.GetArrayFromImage(image)
    array[sitk.GetArrayViewFromImage(labels) > 0] = 40  # soft tissue only: no bone anywhere
    no_bone = sitk.GetImageFromArray(array)
    no_bone.CopyInformation(image)
    with pytest.raises(AnatomyNotFoundError, match="no pelvis"):
        run_case(write_image(no_bone, tmp_path / "abdomen.nii.gz"), tmp_path / "out", model=toy_model)
    assert not (tmp_path / "out").exists()


def test_tampered_model_is_refused(toy_model: Path, toy_ct: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(toy_model, tmp_path / "model"))
    data = bytearray((copy / "weights.safetensors").read_bytes())
    data[len(data) // 2] ^= 1
    (copy / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match="checksum"):
        run_case(toy_ct, tmp_path / "out", model=copy)
    assert not (tmp_path / "out").exists()
    assert load_package(toy_model)  # the original is untouched


def test_thick_slices_give_masks_on_the_thick_grid(toy_model: Path, toy_ct: Path, tmp_path: Path) -> None:
    """A scan with slices twice as thick as the model's grid still gives masks on its own grid."""
    from sacral_tumor_ai.resample import resample_to_spacing

    image = read_image(toy_ct)
    thick = sitk.Cast(resample_to_spacing(image, (4.0, 4.0, 8.0)), sitk.sitkInt16)
    result = run_case(write_image(thick, tmp_path / "thick.nii.gz"), tmp_path / "out", model=toy_model)
    labelmap = read_image(tmp_path / "out" / "segmentation.nii.gz")
    assert labelmap.GetSize() == thick.GetSize() and labelmap.GetSpacing() == thick.GetSpacing()
    thin = run_case(toy_ct, tmp_path / "thin", model=toy_model)
    for name in ("hip_left", "hip_right"):
        assert result["volumes_ml"][name] == pytest.approx(thin["volumes_ml"][name], rel=0.25)


@pytest.fixture(scope="module")
def toy_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sacral_tumor_ai.classify.train import ClsTrainingConfig, train_classifier

    folder = tmp_path_factory.mktemp("toy-classifier")
    datalist = add_toy_clinical(write_toy_datalist(folder / "data", counts=(6, 3, 0)))
    return train_classifier(ClsTrainingConfig(datalist=str(datalist), out=str(folder / "run"), epochs=1, **TINY_CLASSIFIER), log=lambda *_: None)


def test_run_locates_and_classifies_with_the_form(toy_model: Path, toy_classifier: Path, toy_ct: Path, tmp_path: Path) -> None:
    result = run_case(toy_ct, tmp_path / "out", model=toy_model, clinical={"age": 61, "sex": "M"}, classifier=toy_classifier)
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["location"] == json.loads(json.dumps(result["location"]))
    classification = saved["classification"]
    if saved["volumes_ml"]["tumor"] > 0:
        assert classification["available"] and set(classification["probabilities"]) == {"chordoma", "chondrosarcoma", "metastasis"}
        assert classification["clinical_used"] == {"age": 61.0, "sex": "M"}
        assert saved["models"]["classification"]["name"] == "sacral-tumour-classifier"
    else:
        assert not classification["available"] and "empty" in classification["reason"]


def test_impossible_form_values_stop_the_run_before_anything_is_written(toy_model: Path, toy_classifier: Path, toy_ct: Path, tmp_path: Path) -> None:
    from sacral_tumor_ai.classify.scalars import ClinicalInputError

    with pytest.raises(ClinicalInputError, match="age -3"):
        run_case(toy_ct, tmp_path / "out", model=toy_model, clinical={"age": -3}, classifier=toy_classifier)
    with pytest.raises(ClinicalInputError, match="sex 'unknown'"):
        run_case(toy_ct, tmp_path / "out", model=toy_model, clinical={"sex": "unknown"})
    assert not (tmp_path / "out").exists()


def test_metal_in_the_scan_is_reported(toy_model: Path, tmp_path: Path) -> None:
    """A metal ball (a prosthesis's head, 3071 HU as scanners saturate) gets the warning that its streaks can
    mislead the model, with its volume; the same scan without it does not."""
    image, _ = toy_case(101)
    clean = run_case(write_image(image, tmp_path / "clean.nii.gz"), tmp_path / "clean", model=toy_model)
    assert not any(w.startswith("metal in the scan") for w in clean["warnings"])
    array = sitk.GetArrayFromImage(image)
    z, y, x = np.ogrid[: array.shape[0], : array.shape[1], : array.shape[2]]
    spacing = image.GetSpacing()
    centre = [s // 2 for s in array.shape]
    ball = ((z - centre[0]) * spacing[2]) ** 2 + ((y - centre[1]) * spacing[1]) ** 2 + ((x - centre[2]) * spacing[0]) ** 2 <= 16.0**2
    array[ball] = 3071
    metal = sitk.GetImageFromArray(array)
    metal.CopyInformation(image)
    result = run_case(write_image(metal, tmp_path / "metal.nii.gz"), tmp_path / "metal", model=toy_model)
    [warning] = [w for w in result["warnings"] if w.startswith("metal in the scan")]
    ball_ml = 4 / 3 * np.pi * 16.0**3 / 1000  # 17.2 mL; the model grid's 2 mm voxels blur its rim
    reported_ml = float(warning.split("(")[1].split(" mL")[0])
    assert abs(reported_ml - ball_ml) < 0.25 * ball_ml


def _tumour_peaks(model: Path, ct: Path) -> np.ndarray:
    """The highest tumour probability of each tumour piece the model decides on the model grid."""
    package = load_package(model)
    spec = CTModelSpec.from_metadata(package.metadata)
    prepared = prepare_ct(read_image(ct), spec)
    probabilities = predict_probabilities(load_network(package, "cpu"), prepared.channels, spec)
    pieces, count = tumour_pieces(decide_labels(probabilities, spec))
    return piece_maxima(pieces, count, probabilities[spec.tumour_channel()])[1:]


def test_tumour_the_model_is_unsure_of_is_left_out_and_the_user_told(toy_model: Path, toy_ct: Path, tmp_path: Path) -> None:
    """With a calibrated level in the package, pieces whose probability never reaches it go: under every
    piece's peak nothing changes; above the surest one no tumour is left, and the warnings say why."""
    peaks = _tumour_peaks(toy_model, toy_ct)
    assert len(peaks) and peaks.max() < 1.0

    def with_level(level: float) -> Path:
        inference = {**load_package(toy_model).metadata["inference"], "tumour_min_probability": level}
        return install_package(toy_model, tmp_path / f"level-{level:.6f}", {}, updates={"inference": inference}).folder

    plain = run_case(toy_ct, tmp_path / "plain", model=toy_model)
    assert plain["volumes_ml"]["tumor"] > 0
    low = run_case(toy_ct, tmp_path / "low", model=with_level(float(peaks.min()) * 0.99))
    assert low["volumes_ml"] == plain["volumes_ml"] and low["warnings"] == plain["warnings"]
    high = run_case(toy_ct, tmp_path / "high", model=with_level((float(peaks.max()) + 1.0) / 2))
    assert high["volumes_ml"]["tumor"] == 0
    [warning] = [w for w in high["warnings"] if w.startswith("left out what the model called tumour with too little confidence")]
    assert f"reached {peaks.max():.2f} at most" in warning
    assert any(w.startswith("no tumour found by the model") for w in high["warnings"])
    assert high["volumes_ml"]["sacrum"] == plain["volumes_ml"]["sacrum"]  # bones untouched

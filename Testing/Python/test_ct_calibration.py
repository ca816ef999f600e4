"""Test-time mirroring and calibrated decision offsets of the CT model: metadata, inference, the search and
the ``calibrate-seg`` command on toy data (mechanics; the bundled model's measured gains are in its card)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sacral_tumor_ai.ctseg.inference import decide_labels, predict_probabilities
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.evaluation.calibrate_seg import CalibrationCase, calibrate_segmentation_model, mean_dice, search_offsets
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR, mirror_label
from sacral_tumor_ai.models.networks import build_network
from sacral_tumor_ai.models.package import ModelPackageError, load_package, save_package, sha256_of
from sacral_tumor_ai.training.seg_train import SegTrainingConfig, package_metadata
from toy_ct import TINY_TRAINING, write_toy_datalist

OUTPUTS = ("tumor", "hip_left", "hip_right", "sacrum")


def _spec(**changes) -> CTModelSpec:
    return replace(CTModelSpec((4.0, 4.0, 4.0), ((-100.0, 300.0),), (16, 16, 16), OUTPUTS), **changes)


@pytest.fixture(scope="module")
def untrained_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package of the toy architecture with random weights (the pipeline's mechanics, not accuracy)."""
    folder = tmp_path_factory.mktemp("untrained")
    config = SegTrainingConfig(datalist="unused", out=str(folder / "run"), epochs=1, **TINY_TRAINING)
    torch.manual_seed(0)
    network = build_network(config.architecture())
    return save_package(network.state_dict(), package_metadata(config, {}, {}), folder / "model").folder


def test_mirror_labels_swap_sides_only() -> None:
    assert mirror_label(HIP_LEFT) == HIP_RIGHT and mirror_label(HIP_RIGHT) == HIP_LEFT
    assert mirror_label(SACRUM) == SACRUM and mirror_label(TUMOR) == TUMOR
    assert _spec().mirrored_channels() == [0, 1, 3, 2, 4]


def test_inference_settings_round_trip_through_metadata() -> None:
    spec = _spec(mirror=True, offsets=(("tumor", -1.25), ("hip_left", -0.5)))
    again = CTModelSpec.from_metadata({**spec.to_metadata(), "name": "x"})
    assert again == spec
    assert again.decision_offsets() == [0.0, -1.25, -0.5, 0.0, 0.0]
    # A model without the section (every package before 0.3.1) decides by plain arg-max, unmirrored.
    old = spec.to_metadata()
    del old["inference"]
    assert CTModelSpec.from_metadata(old) == _spec()
    with pytest.raises(ModelPackageError, match="femur"):
        CTModelSpec.from_metadata({**spec.to_metadata(), "inference": {"decision_offsets": {"femur": 1.0}}})
    one_sided = _spec(output_labels=("tumor", "hip_left"), mirror=True).to_metadata()
    with pytest.raises(ModelPackageError, match="both sides of hip_left"):
        CTModelSpec.from_metadata(one_sided)


def test_decision_offsets_move_the_boundary() -> None:
    # Background 0.55, tumour 0.45 everywhere except one voxel: the offset decides which wins.
    probabilities = np.zeros((5, 1, 1, 3), np.float32)
    probabilities[0], probabilities[1] = 0.55, 0.45
    probabilities[:, 0, 0, 2] = [0.1, 0.9, 0.0, 0.0, 0.0]
    assert decide_labels(probabilities, _spec()).tolist() == [[[0, 0, TUMOR.value]]]
    grown = decide_labels(probabilities, _spec(offsets=(("tumor", 0.5),)))
    assert grown.tolist() == [[[TUMOR.value] * 3]]
    shrunk = decide_labels(probabilities, _spec(offsets=(("tumor", -3.0),)))
    assert shrunk.tolist() == [[[0, 0, 0]]]


def test_mirrored_prediction_is_left_right_symmetric(untrained_package: Path) -> None:
    package = load_package(untrained_package)
    spec = replace(CTModelSpec.from_metadata(package.metadata), mirror=True)
    network = build_network(package.metadata["architecture"]).eval()
    channels = np.random.default_rng(0).random((spec.channels, 20, 24, 28), dtype=np.float32)
    plain = predict_probabilities(network, channels, spec, mirror=False)
    mirrored_input = predict_probabilities(network, channels[..., ::-1].copy(), spec)
    averaged = predict_probabilities(network, channels, spec)
    # The averaged prediction of the mirrored input is the averaged prediction, mirrored, hips swapped.
    np.testing.assert_allclose(mirrored_input, averaged[spec.mirrored_channels()][..., ::-1], atol=1e-5)
    assert not np.allclose(plain, averaged, atol=1e-3)  # the mirrored pass really changed something
    np.testing.assert_allclose(averaged.sum(axis=0), 1.0, atol=1e-5)


def test_windows_in_pairs_predict_as_one_at_a_time(untrained_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows run in pairs (float32 convolution is 3 times faster so on a CPU); each window is normalised on
    its own, so the probabilities are those of single windows, and the progress still counts every window."""
    from sacral_tumor_ai.ctseg import inference
    from sacral_tumor_ai.progress import Progress

    package = load_package(untrained_package)
    spec = replace(CTModelSpec.from_metadata(package.metadata), mirror=True, patch_size=(16, 16, 16), overlap=0.5)
    network = build_network(package.metadata["architecture"]).eval()
    channels = np.random.default_rng(1).random((spec.channels, 24, 40, 40), dtype=np.float32)
    messages: list[str] = []
    paired = predict_probabilities(network, channels, spec, progress=Progress(lambda _, message: messages.append(message)))
    monkeypatch.setattr(inference, "WINDOW_BATCH", 1)
    single = predict_probabilities(network, channels, spec)
    np.testing.assert_allclose(paired, single, atol=1e-5)
    total = inference.count_windows(channels.shape[1:], (16, 16, 16), 0.5) * 2
    assert messages[-1] == f"segmenting patch {total - 1} of {total}"  # the last pair starts at the last but one


def _sphere_case(radius_true: float, radius_drawn: float) -> CalibrationCase:
    """A tumour of ``radius_true`` whose predicted probability stays above 0.5 out to ``radius_drawn``."""
    z, y, x = np.mgrid[:24, :24, :24] - 12.0
    distance = np.sqrt(x**2 + y**2 + z**2)
    tumour = 1 / (1 + np.exp(distance - radius_drawn))  # 0.5 at the drawn radius
    probabilities = np.zeros((5, 24, 24, 24), np.float32)
    probabilities[0], probabilities[1] = 1 - tumour, tumour
    reference = np.where(distance < radius_true, TUMOR.value, 0).astype(np.uint8)
    return CalibrationCase("sphere", np.log(np.maximum(probabilities, 1e-8)).astype(np.float16), reference, ("tumor",))


def test_search_finds_the_offset_that_undoes_an_oversized_tumour() -> None:
    cases = [_sphere_case(6.0, 8.0), _sphere_case(5.0, 7.0)]
    spec = _spec()
    values = np.asarray(spec.label_values(), np.uint8)
    offsets = search_offsets(cases, spec)
    before, after = mean_dice(cases, np.zeros(5, np.float32), values), mean_dice(cases, offsets, values)
    assert offsets[1] < -1.0  # the logistic profile needs about -2 to move the boundary in by 2 voxels
    assert after["tumor"] > before["tumor"] + 0.1 and after["tumor"] > 0.9
    assert not np.any(offsets[2:])  # labels absent from every case keep offset 0


def test_calibrate_command_writes_a_new_package_and_keeps_the_weights(untrained_package: Path, tmp_path: Path) -> None:
    datalist = write_toy_datalist(tmp_path / "data", counts=(0, 2, 0))
    tumour_only = write_toy_datalist(tmp_path / "tumour-only", counts=(0, 1, 0), first_seed=7, tumour_only=True)
    out = tmp_path / "calibrated"
    result = calibrate_segmentation_model(untrained_package, [datalist, tumour_only], "validation", out, mirror=True, version="9.9.9")
    package = load_package(out)
    inference = package.metadata["inference"]
    assert inference["mirror_left_right"] is True and set(inference["decision_offsets"]) == set(OUTPUTS)
    record = inference["calibration"]
    assert record["cases"] == 3 and record["split"] == "validation"
    # The search only accepts changes that raise the objective, so validation Dice never drops.
    before, after = record["validation_dice_before"], record["validation_dice_after"]
    assert np.mean(list(after.values())) >= np.mean(list(before.values()))
    assert package.version == "9.9.9" and result["package"] == str(out)
    assert sha256_of(package.weights_path) == sha256_of(load_package(untrained_package).weights_path)
    assert json.loads((untrained_package / "model.json").read_text())["inference"]["decision_offsets"] == {}
    spec = CTModelSpec.from_metadata(package.metadata)
    assert spec.mirror and dict(spec.offsets) == inference["decision_offsets"]


def test_only_the_named_labels_are_calibrated(untrained_package: Path, tmp_path: Path) -> None:
    cases = [_sphere_case(6.0, 8.0)]
    assert not np.any(search_offsets(cases, _spec(), labels=("sacrum",)))  # the tumour's offset is never tried
    assert search_offsets(cases, _spec(), labels=("tumor",))[1] < -1.0
    datalist = write_toy_datalist(tmp_path / "data", counts=(0, 1, 0))
    result = calibrate_segmentation_model(untrained_package, [datalist], "validation", tmp_path / "out", labels=("tumor",))
    assert set(result["decision_offsets"]) == set(OUTPUTS)
    assert all(result["decision_offsets"][name] == 0.0 for name in ("hip_left", "hip_right", "sacrum"))
    assert result["calibration"]["labels_searched"] == ["tumor"]
    with pytest.raises(SacralTumorAIError, match="no output labels femur"):
        calibrate_segmentation_model(untrained_package, [datalist], "validation", tmp_path / "other", labels=("femur",))
    assert not (tmp_path / "other").exists()
    with pytest.raises(SacralTumorAIError, match="'test' split is empty"):
        calibrate_segmentation_model(untrained_package, [datalist], "test", tmp_path / "other")


def test_calibration_sets_the_sliding_window_it_chose_the_offsets_at(untrained_package: Path, tmp_path: Path) -> None:
    datalist = write_toy_datalist(tmp_path / "data", counts=(0, 1, 0))
    out = tmp_path / "windowed"
    calibrate_segmentation_model(untrained_package, [datalist], "validation", out, window=(16, 16, 16), overlap=0.5)
    package = load_package(out)
    assert package.metadata["input"]["patch_size"] == [16, 16, 16] and package.metadata["input"]["overlap"] == 0.5
    spec = CTModelSpec.from_metadata(package.metadata)
    assert (spec.patch_size, spec.overlap) == ((16, 16, 16), 0.5)
    original = load_package(untrained_package).metadata["input"]
    assert original["patch_size"] == [32, 32, 16] and original["overlap"] == 0.25
    # Without a window the package's own is kept.
    calibrate_segmentation_model(untrained_package, [datalist], "validation", tmp_path / "kept")
    assert load_package(tmp_path / "kept").metadata["input"]["patch_size"] == [32, 32, 16]
    for window, overlap in (((0, 16, 16), None), (None, 1.0)):
        with pytest.raises(ModelPackageError, match="sliding-window overlap|sliding window"):
            calibrate_segmentation_model(untrained_package, [datalist], "validation", tmp_path / "bad", window=window, overlap=overlap)
        assert not (tmp_path / "bad").exists()


def test_an_instance_normalised_network_sees_another_input_in_a_larger_window(untrained_package: Path) -> None:
    """Why the window is a calibrated setting: each window is normalised by its own statistics, so the same
    voxel gets other probabilities when the window around it grows (the bundled model drew a rim of muscle
    around every tumour at windows of 96³ after training on patches of 64³)."""
    from sacral_tumor_ai.models.networks import load_network

    package = load_package(untrained_package)
    spec = CTModelSpec.from_metadata(package.metadata)
    network = load_network(package)
    channels = np.random.default_rng(0).random((len(spec.windows), 32, 64, 64), dtype=np.float32)
    channels[:, 8:24, 16:48, 16:48] += 1.0  # a bright block: windows that hold more or less of it differ
    small = predict_probabilities(network, channels, replace(spec, patch_size=(16, 16, 16), overlap=0.5))
    large = predict_probabilities(network, channels, replace(spec, patch_size=(64, 64, 32), overlap=0.5))
    assert small.shape == large.shape
    assert np.abs(small - large).max() > 0.01


def test_calibrating_over_the_model_itself_is_refused(untrained_package: Path, tmp_path: Path) -> None:
    datalist = write_toy_datalist(tmp_path / "data", counts=(0, 1, 0))
    before = sha256_of(untrained_package / "model.json")
    with pytest.raises(ModelPackageError, match="over itself"):
        calibrate_segmentation_model(untrained_package, [datalist], "validation", untrained_package)
    assert sha256_of(untrained_package / "model.json") == before
    load_package(untrained_package)


def test_the_fast_line_search_scores_as_the_full_arg_max() -> None:
    from sacral_tumor_ai.evaluation.calibrate_seg import OFFSET_GRID, _best_offset, objective

    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 12, 14, 16)).astype(np.float32)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=0)
    reference = np.asarray(_spec().label_values(), np.uint8)[rng.integers(0, 5, size=(12, 14, 16))]
    cases = [CalibrationCase("random", np.log(probabilities).astype(np.float16), reference, OUTPUTS)]
    values = np.asarray(_spec().label_values(), np.uint8)
    offsets = np.array([0, -0.5, 0.25, 0, -1.0], np.float32)
    for channel in (1, 3):
        chosen, score = _best_offset(cases, offsets, values, channel)
        full = {}
        for candidate in OFFSET_GRID:
            trial = offsets.copy()
            trial[channel] = candidate
            full[float(candidate)] = objective(mean_dice(cases, trial, values))
        assert score == pytest.approx(max(full.values()), abs=1e-6)
        assert full[chosen] == pytest.approx(score, abs=1e-6)

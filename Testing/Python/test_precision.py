"""Inference precision: bfloat16 where the hardware has it, float32 elsewhere or when asked, and the CT
model's probabilities in bfloat16 close to float32's (the bundled model's measured Dice in both is in
docs/ct-segmentation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from sacral_tumor_ai.ctseg.inference import decide_labels, predict_probabilities
from sacral_tumor_ai.ctseg.preprocess import prepare_ct
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.demo import bundled_model_path, demo_case_path
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.models.precision import PRECISION_VARIABLE, inference_dtype, native_bfloat16, requested_precision


def test_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)
    assert requested_precision() == "auto"
    assert inference_dtype("cuda:0") == "bfloat16"
    assert inference_dtype("mps") == "float32"  # no native check there: float32 is the safe choice
    assert inference_dtype("cpu") == ("bfloat16" if native_bfloat16("cpu") else "float32")


@pytest.mark.parametrize("value", ["float32", "bfloat16", " BFloat16 "])
def test_the_environment_overrides_the_hardware(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, value)
    assert inference_dtype("cpu") == inference_dtype("cuda") == value.strip().lower()


def test_an_unknown_precision_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, "float16")
    with pytest.raises(ValueError, match="SACRAL_TUMOR_AI_PRECISION='float16': expected one of auto, float32, bfloat16"):
        inference_dtype("cpu")


@pytest.mark.slow
def test_bfloat16_probabilities_stay_close_to_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    # One window of the bundled model on the demo case's lesion, unmirrored: bfloat16 really runs (the
    # probabilities differ) and decides nearly every voxel as float32 does.
    package = load_package(bundled_model_path("ct-seg"))
    spec = CTModelSpec.from_metadata(package.metadata)
    channels = prepare_ct(read_image(demo_case_path()), spec).channels[:, :96, :96, -96:].copy()
    network = load_network(package, "cpu")
    runs = {}
    for precision in ("float32", "bfloat16"):
        monkeypatch.setenv(PRECISION_VARIABLE, precision)
        runs[precision] = predict_probabilities(network, channels, spec, mirror=False)
    difference = np.abs(runs["float32"] - runs["bfloat16"])
    assert 1e-4 < difference.max() < 0.2 and difference.mean() < 1e-3
    labels = {precision: decide_labels(probabilities, spec) for precision, probabilities in runs.items()}
    assert np.count_nonzero(labels["float32"]) > 10_000  # the window holds bone and tumour
    assert np.mean(labels["float32"] == labels["bfloat16"]) > 0.995

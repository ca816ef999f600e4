"""The calibrated tumour confidence of the CT model: its metadata, the validation pieces it is chosen from, the
choice, and the ``calibrate-confidence`` command (mechanics on toy data; the bundled model's level and what it
does on real scans are in its card)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.evaluation.calibrate_confidence import FALSE, FRAGMENT, TUMOUR, Piece, calibrate_tumour_confidence, case_pieces, choose_level
from sacral_tumor_ai.evaluation.calibrate_seg import CalibrationCase
from sacral_tumor_ai.labels import SACRUM, TUMOR
from sacral_tumor_ai.models.networks import build_network
from sacral_tumor_ai.models.package import ModelPackageError, load_package, save_package, sha256_of
from sacral_tumor_ai.training.seg_train import SegTrainingConfig, package_metadata
from toy_ct import TINY_TRAINING, write_toy_datalist

OUTPUTS = ("tumor", "hip_left", "hip_right", "sacrum")


def _spec(**changes) -> CTModelSpec:
    return replace(CTModelSpec((2.0, 2.0, 2.0), ((-100.0, 300.0),), (16, 16, 16), OUTPUTS), **changes)


def test_the_level_round_trips_through_metadata_and_nonsense_is_refused() -> None:
    spec = _spec(tumour_min_probability=0.93)
    assert CTModelSpec.from_metadata(spec.to_metadata()).tumour_min_probability == 0.93
    assert CTModelSpec.from_metadata(_spec().to_metadata()).tumour_min_probability == 0.0  # older packages: no rule
    for level in (1.0, -0.1):
        with pytest.raises(ModelPackageError, match="tumour_min_probability"):
            CTModelSpec.from_metadata(_spec(tumour_min_probability=level).to_metadata())
    bones_only = replace(_spec(), output_labels=("hip_left", "hip_right"), tumour_min_probability=0.5)
    with pytest.raises(ModelPackageError, match="outputs no tumour"):
        CTModelSpec.from_metadata(bones_only.to_metadata())


def _case() -> CalibrationCase:
    """Decided as: the sacrum; the labelled tumour beside it, drawn in two pieces (the larger one the case's
    tumour, the smaller a fragment); a false piece near the sacrum; one far from it (the pipeline drops that)."""
    shape = (12, 24, 60)
    probabilities = np.full((5, *shape), 0.01, np.float32)
    probabilities[0] = 0.96
    regions = {
        (SACRUM, 0.9): (slice(2, 10), slice(2, 22), slice(0, 8)),
        (TUMOR, 0.97): (slice(2, 8), slice(4, 20), slice(8, 16)),  # the tumour
        (TUMOR, 0.7): (slice(9, 10), slice(10, 14), slice(8, 10)),  # a fragment of it (the reference reaches it)
        (TUMOR, 0.8): (slice(10, 12), slice(2, 4), slice(2, 5)),  # under the sacrum, no tumour there: false
        (TUMOR, 0.99): (slice(4, 6), slice(10, 12), slice(50, 52)),  # 86 mm from the sacrum: dropped first
    }
    for (label, probability), region in regions.items():
        probabilities[(0, *region)] = (1 - probability) / 2
        probabilities[(1 + OUTPUTS.index(label.name), *region)] = probability
    reference = np.zeros(shape, np.uint8)
    reference[2:10, 4:20, 8:20] = TUMOR.value
    reference[2:10, 2:22, 0:8] = SACRUM.value
    return CalibrationCase("toy", np.log(probabilities).astype(np.float16), reference, OUTPUTS, (2.0, 2.0, 2.0))


def test_validation_pieces_are_told_apart_as_the_pipeline_sees_them() -> None:
    pieces = sorted(case_pieces(_case(), _spec()), key=lambda piece: -piece.ml)
    assert [piece.kind for piece in pieces] == [TUMOUR, FALSE, FRAGMENT]
    assert [piece.probability for piece in pieces] == pytest.approx([0.97, 0.8, 0.7], abs=2e-3)
    assert pieces[0].ml == pytest.approx(6 * 16 * 8 * 0.008)
    # The package's offsets decide the pieces: a large negative tumour offset leaves none.
    assert case_pieces(_case(), _spec(offsets=(("tumor", -6.0),))) == []


def _pieces(tumours: list[float], false: list[float]) -> list[Piece]:
    return [Piece("a", 1.0, p, TUMOUR) for p in tumours] + [Piece("b", 0.1, p, FALSE) for p in false] + [Piece("c", 0.1, 0.3, FRAGMENT)]


def _log_odds(probability: float) -> float:
    return float(np.log(probability / (1 - probability)))


def test_the_level_is_at_half_the_log_odds_of_the_least_sure_tumour() -> None:
    level = choose_level(_pieces([1.0, 0.9969, 0.999], [0.99, 0.86, 0.5]))
    assert _log_odds(level) == pytest.approx(_log_odds(0.9969) / 2) and level == pytest.approx(0.947, abs=1e-3)
    assert choose_level(_pieces([0.9969], [])) == level  # false pieces do not move it, fragments never count
    assert 0.99 < choose_level(_pieces([1.0], [])) < 1.0  # a peak rounded to 1.0 is not infinitely sure
    assert choose_level(_pieces([0.45], [0.3])) == 0.0  # a tumour won at under even odds (an offset): no rule
    with pytest.raises(SacralTumorAIError, match="found no tumour"):
        choose_level(_pieces([], [0.5]))


def test_a_sliver_of_a_missed_tumour_is_not_a_found_tumour() -> None:
    """The largest piece touching the labelled tumour counts as found only when it holds a tenth of it."""
    case = _case()
    reference = case.reference.copy()
    reference[0:12, 0:24, 8:60][reference[0:12, 0:24, 8:60] == 0] = TUMOR.value  # 768 of 11040 voxels drawn
    pieces = case_pieces(replace(case, reference=reference), _spec())
    assert TUMOUR not in {piece.kind for piece in pieces}


def _biased_package(folder: Path, channel: int) -> Path:
    """A toy-architecture package whose output heads favour ``channel`` everywhere (a predictable network)."""
    config = SegTrainingConfig(datalist="unused", out=str(folder / "run"), epochs=1, **TINY_TRAINING)
    torch.manual_seed(0)
    network = build_network(config.architecture())
    state = network.state_dict()
    for key in [key for key in state if key.endswith("head.bias")]:
        state[key][channel] += 20.0
    return save_package(state, package_metadata(config, {}, {}), folder / "model").folder


def test_the_command_writes_a_new_package_with_the_level_and_its_record(tmp_path: Path) -> None:
    model = _biased_package(tmp_path / "tumour-everywhere", 1)  # one piece, the tumour, sure as can be
    datalist = write_toy_datalist(tmp_path / "data", counts=(0, 2, 0))
    result = calibrate_tumour_confidence(model, [datalist], "validation", tmp_path / "out", version="9.9.8")
    package = load_package(tmp_path / "out")
    record = package.metadata["inference"]["tumour_confidence_calibration"]
    level = package.metadata["inference"]["tumour_min_probability"]
    assert level == result["tumour_min_probability"] == choose_level([Piece(**piece) for piece in record["pieces"]])
    assert record["cases"] == 2 and record["tumours"] == 2 and record["missed"] == 0 and record["false_pieces"] == 0
    assert CTModelSpec.from_metadata(package.metadata).tumour_min_probability == level
    assert package.version == "9.9.8" and sha256_of(package.weights_path) == sha256_of(load_package(model).weights_path)
    assert "tumour_confidence_calibration" not in json.loads((model / "model.json").read_text())["inference"]  # the source stays


def test_a_model_that_finds_no_validation_tumour_gets_no_level_and_no_package(tmp_path: Path) -> None:
    model = _biased_package(tmp_path / "background-everywhere", 0)
    datalist = write_toy_datalist(tmp_path / "data", counts=(0, 1, 0))
    with pytest.raises(SacralTumorAIError, match="found no tumour"):
        calibrate_tumour_confidence(model, [datalist], "validation", tmp_path / "out")
    assert not (tmp_path / "out").exists()

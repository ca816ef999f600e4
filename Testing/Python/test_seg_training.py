"""The segmentation trainer on toy data: learns, checkpoints, resumes, exports a package, runs under torchrun."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.training.checkpoint import load_checkpoint
from sacral_tumor_ai.training.schedule import warmup_then_cosine
from sacral_tumor_ai.training.seg_train import SegTrainingConfig, train_segmentation
from toy_ct import TINY_TRAINING, write_toy_datalist


@pytest.fixture(scope="module")
def toy_datalist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_datalist(tmp_path_factory.mktemp("toy"))


def _log(path: Path) -> list[dict[str, str]]:
    with path.open() as stream:
        return list(csv.DictReader(stream))


@pytest.mark.slow
def test_trains_exports_and_resumes(toy_datalist: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = SegTrainingConfig(datalist=str(toy_datalist), out=str(out), epochs=2, **TINY_TRAINING)
    package = load_package(train_segmentation(config, log=lambda *_: None))
    assert package.metadata["task"] == "segmentation" and package.metadata["modality"] == "CT"
    assert package.metadata["output"]["labels"] == ["tumor", "hip_left", "hip_right", "sacrum"]
    assert "not for diagnosis" in package.metadata["intended_use"].lower()
    assert [row["epoch"] for row in _log(out / "training_log.csv")] == ["1", "2"]
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1

    # An interrupted run continues where it stopped instead of starting over.
    longer = SegTrainingConfig(datalist=str(toy_datalist), out=str(out), epochs=12, **TINY_TRAINING)
    train_segmentation(longer, resume=True, log=lambda *_: None)
    log = _log(out / "training_log.csv")
    assert [row["epoch"] for row in log] == [str(epoch) for epoch in range(1, 13)]
    # Learning happened: the loss falls and validation Dice rises (toy data, a few seconds of training).
    assert float(log[-1]["loss"]) < 0.8 * float(log[0]["loss"])
    assert float(log[-1]["mean_dice"]) > float(log[0]["mean_dice"]) + 0.1
    # The rate is computed from the epoch, so the extended run decays over all 12 epochs.
    expected = [longer.learning_rate * warmup_then_cosine(epoch, longer.warmup_epochs, 12) for epoch in range(12)]
    assert [float(row["learning_rate"]) for row in log[2:]] == pytest.approx(expected[2:])


@pytest.mark.slow
def test_two_processes_with_torchrun(toy_datalist: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**TINY_TRAINING, "epochs": 1}))
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "sacral_tumor_ai",
         "train-seg", "--datalist", str(toy_datalist), "--out", str(tmp_path / "ddp"), "--config", str(config)],
        capture_output=True, text=True, env=environment, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "ddp" / "model" / "model.json").is_file()
    assert len(_log(tmp_path / "ddp" / "training_log.csv")) == 1


@pytest.mark.slow
def test_fine_tunes_on_several_datalists_with_tumour_only_labels(toy_datalist: Path, tmp_path: Path) -> None:
    """A fine-tuning run starts from a package's weights and joins a fully labelled and a tumour-only list;
    validation scores the tumour-only cases on the tumour alone."""
    partial = write_toy_datalist(tmp_path / "partial", counts=(2, 2, 0), first_seed=50, tumour_only=True)
    first = SegTrainingConfig(datalist=str(toy_datalist), out=str(tmp_path / "first"), epochs=1, **TINY_TRAINING)
    start = load_package(train_segmentation(first, log=lambda *_: None))

    frozen = SegTrainingConfig(datalist=[str(toy_datalist), str(partial)], out=str(tmp_path / "frozen"), epochs=1, init_model=str(start.folder), **{**TINY_TRAINING, "learning_rate": 0.0})
    unchanged = load_package(train_segmentation(frozen, log=lambda *_: None)).state_dict()
    assert all(torch.equal(unchanged[key], value) for key, value in start.state_dict().items())

    tuned = SegTrainingConfig(datalist=[str(toy_datalist), str(partial)], out=str(tmp_path / "tuned"), epochs=2, init_model=str(start.folder), **TINY_TRAINING)
    package = load_package(train_segmentation(tuned, log=lambda *_: None))
    assert package.metadata["training"]["cases"] == {"training": 6, "validation": 4}
    assert {"dice_tumor", "dice_sacrum"} <= set(_log(tmp_path / "tuned" / "training_log.csv")[0])


def test_partial_labels_other_than_tumour_are_refused() -> None:
    from sacral_tumor_ai.errors import SacralTumorAIError
    from sacral_tumor_ai.training.seg_data import is_partly_labelled

    structures = ("tumor", "hip_left", "hip_right", "sacrum")
    assert not is_partly_labelled({"case_id": "a"}, structures)
    assert is_partly_labelled({"case_id": "b", "labelled": ["tumor"]}, structures)
    with pytest.raises(SacralTumorAIError, match="not supported"):
        is_partly_labelled({"case_id": "c", "labelled": ["sacrum"]}, structures)


def test_left_right_mirroring_swaps_the_hip_labels_and_is_seeded() -> None:
    import numpy as np

    from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR
    from sacral_tumor_ai.training.seg_data import RandMirrorLeftRightd, training_transforms

    spec = SegTrainingConfig(datalist="unused", out="unused").spec()
    label = np.zeros((1, 4, 5, 6), np.uint8)
    label[0, :, :, 0], label[0, :, :, 5] = HIP_RIGHT.value, HIP_LEFT.value  # x runs right to left (LPS)
    label[0, 1, 1, 2], label[0, 2, 2, 3] = TUMOR.value, SACRUM.value
    image = np.random.default_rng(0).random((2, 4, 5, 6), dtype=np.float32)
    mirrored = RandMirrorLeftRightd(spec, prob=1.0)({"image": image, "label": label, "partial": False})
    flipped = label[..., ::-1]
    expected = np.where(flipped == HIP_LEFT.value, HIP_RIGHT.value, np.where(flipped == HIP_RIGHT.value, HIP_LEFT.value, flipped))
    # The mirrored patch is still anatomically true: the hip bone now on the patient's left is labelled left.
    assert np.array_equal(mirrored["label"].numpy(), expected)
    assert np.array_equal(mirrored["image"].numpy(), image[..., ::-1])
    assert mirrored["partial"] is False
    assert RandMirrorLeftRightd(spec, prob=0.0)({"image": image, "label": label})["label"] is label

    # Seeded through MONAI's Compose like the other random transforms: a run's augmentation is reproducible.
    def mirrored_or_not(seed: int) -> list[bool]:
        transform = RandMirrorLeftRightd(spec, prob=0.5)
        transform.set_random_state(seed)
        return [bool(transform({"image": image, "label": label})["label"][0, 1, 1, 3] == TUMOR.value) for _ in range(12)]

    assert mirrored_or_not(4) == mirrored_or_not(4) and len(set(mirrored_or_not(4))) == 2
    assert any(isinstance(t, RandMirrorLeftRightd) for t in training_transforms(spec, 2, 0.5).transforms)


def test_class_weighted_crops_centre_small_tumours_by_their_weight() -> None:
    from dataclasses import replace

    import numpy as np

    from sacral_tumor_ai.errors import SacralTumorAIError
    from sacral_tumor_ai.labels import SACRUM, TUMOR
    from sacral_tumor_ai.training.seg_data import crop_class_ratios, training_transforms

    spec = replace(SegTrainingConfig(datalist="unused", out="unused").spec(), patch_size=(8, 8, 8))
    # A 2-voxel tumour in one corner beside a large sacrum: voxel-uniform foreground centres would almost
    # never land on it.
    label = np.zeros((1, 40, 40, 40), np.uint8)
    label[0, 8:36, 8:36, 8:36] = SACRUM.value
    label[0, 1, 1, 1:3] = TUMOR.value
    image = np.zeros((2, 40, 40, 40), np.float32)

    def tumour_patches(weights: dict[str, float] | None) -> int:
        transforms = training_transforms(spec, 4, crop_weights=weights)
        transforms.set_random_state(3)
        patches = [p for _ in range(10) for p in transforms({"image": image, "label": label})]
        assert all(tuple(p["label"].shape) == (1, 8, 8, 8) for p in patches)
        return sum(bool((p["label"] == TUMOR.value).any()) for p in patches)

    assert tumour_patches({"tumor": 1.0}) == 40  # every patch holds the tumour
    assert tumour_patches(None) < 10
    weighted = tumour_patches({"background": 1.0, "tumor": 1.0, "sacrum": 2.0})
    assert 3 <= weighted <= 22  # about a quarter of 40
    ratios = crop_class_ratios(spec, {"tumor": 2.0, "background": 1.0})
    assert (ratios[0], ratios[TUMOR.value], ratios[SACRUM.value]) == (1.0, 2.0, 0.0)
    with pytest.raises(SacralTumorAIError, match="unknown labels"):
        crop_class_ratios(spec, {"tumour": 1.0})


@pytest.mark.slow
def test_trains_in_bfloat16_as_it_does_in_float32(toy_datalist: Path, tmp_path: Path) -> None:
    # The same toy run in both precisions: bfloat16 forward passes learn too (its speed is in
    # benchmarks/bench_training.py; on a full fine-tune its effect is unmeasured).
    finals = {}
    for precision in ("float32", "bfloat16"):
        out = tmp_path / precision
        config = SegTrainingConfig(datalist=str(toy_datalist), out=str(out), epochs=8, precision=precision, **TINY_TRAINING)
        train_segmentation(config, log=lambda *_: None)
        log = _log(out / "training_log.csv")
        assert float(log[-1]["loss"]) < 0.8 * float(log[0]["loss"])
        finals[precision] = float(log[-1]["mean_dice"])
    assert finals["bfloat16"] > finals["float32"] - 0.1
    with pytest.raises(SacralTumorAIError, match="precision 'float16': expected one of float32, bfloat16"):
        train_segmentation(SegTrainingConfig(datalist=str(toy_datalist), out=str(tmp_path / "x"), precision="float16", **TINY_TRAINING))


def test_refuses_a_negative_dice_weight(toy_datalist: Path, tmp_path: Path) -> None:
    with pytest.raises(SacralTumorAIError, match="dice_weight -1.0: expected 0 or more"):
        train_segmentation(SegTrainingConfig(datalist=str(toy_datalist), out=str(tmp_path / "x"), dice_weight=-1.0, **TINY_TRAINING))
    assert not (tmp_path / "x").exists()


def test_warns_when_training_patches_and_windows_differ(toy_datalist: Path, tmp_path: Path) -> None:
    # The bundled model ran windows of 96³ after training on 64³ patches and drew a rim around every tumour.
    lines: list[str] = []
    training = {**TINY_TRAINING, "epochs": 1, "train_patch_size": [16, 16, 16]}
    train_segmentation(SegTrainingConfig(datalist=str(toy_datalist), out=str(tmp_path / "mismatch"), **training), log=lines.append)
    assert any("warning" in line and "[16, 16, 16]" in line and "calibrate-seg --window" in line for line in lines)
    lines.clear()
    train_segmentation(SegTrainingConfig(datalist=str(toy_datalist), out=str(tmp_path / "same"), **{**TINY_TRAINING, "epochs": 1}), log=lines.append)
    assert not any("warning" in line for line in lines)

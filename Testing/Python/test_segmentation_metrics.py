"""Dice, IoU and HD95 agree with independent references (MONAI, closed-form shapes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sacral_tumor_ai.evaluation.evaluate_seg import summarise, volumes_ml
from sacral_tumor_ai.evaluation.segmentation_metrics import dice, hausdorff95, iou


def _blob(shape, centre, radius) -> np.ndarray:
    grid = np.indices(shape)
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2


def test_overlap_matches_monai() -> None:
    from monai.metrics import compute_dice, compute_iou

    rng = np.random.default_rng(0)
    a, b = rng.random((20, 21, 22)) > 0.6, rng.random((20, 21, 22)) > 0.5
    tensors = [torch.from_numpy(m[None, None].astype(np.float32)) for m in (a, b)]
    assert dice(a, b) == pytest.approx(float(compute_dice(*tensors, include_background=True)))
    assert iou(a, b) == pytest.approx(float(compute_iou(*tensors, include_background=True)))


def test_hd95_matches_monai_on_isotropic_grid() -> None:
    from monai.metrics import compute_hausdorff_distance

    a = _blob((40, 40, 40), (20, 20, 20), 10)
    b = _blob((40, 40, 40), (22, 19, 21), 8)
    tensors = [torch.from_numpy(m[None, None].astype(np.float32)) for m in (a, b)]
    reference = float(compute_hausdorff_distance(*tensors, include_background=True, percentile=95))
    assert hausdorff95(a, b, (1.0, 1.0, 1.0)) == pytest.approx(reference, abs=0.5)


def test_hd95_uses_millimetres() -> None:
    # Two slabs 4 voxels apart along z (the array's first axis = image z): 4 voxels x 2.5 mm = 10 mm.
    a = np.zeros((30, 10, 10), bool)
    b = np.zeros_like(a)
    a[10:14] = True
    b[14:18] = True
    assert hausdorff95(a, b, (0.7, 0.7, 2.5)) == pytest.approx(10.0, abs=1e-6)


def test_empty_mask_conventions() -> None:
    empty, full = np.zeros((5, 5, 5), bool), np.ones((5, 5, 5), bool)
    assert dice(empty, empty) == 1.0 and iou(empty, empty) == 1.0 and hausdorff95(empty, empty, (1, 1, 1)) == 0.0
    assert dice(empty, full) == 0.0 and math.isnan(hausdorff95(empty, full, (1, 1, 1)))


def test_summary_mean_sd_and_undefined() -> None:
    rows = [
        {"case_id": "a", "structure": "tumor", "dice": 0.8, "iou": 0.7, "hd95_mm": 5.0},
        {"case_id": "b", "structure": "tumor", "dice": 0.6, "iou": 0.5, "hd95_mm": math.nan},
    ]
    summary = summarise(rows)["tumor"]
    assert summary["dice"]["mean"] == pytest.approx(0.7) and summary["dice"]["sd"] == pytest.approx(0.1414, abs=1e-3)
    assert summary["hd95_mm"] == {"mean": 5.0, "sd": 0.0, "undefined": 1}
    only_undefined = summarise([rows[1]])["tumor"]["hd95_mm"]
    assert only_undefined["mean"] is None and only_undefined["undefined"] == 1  # strict JSON: null, not NaN


def test_volumes_say_which_way_a_structure_is_wrong() -> None:
    reference = np.zeros((10, 10, 10), np.uint8)
    prediction = np.zeros_like(reference)
    reference[2:6] = 1  # 400 voxels
    prediction[3:8] = 1  # 500 voxels: 300 shared, 200 false, 100 missed
    assert volumes_ml(prediction, reference, 1, 0.002) == {"reference_ml": 0.8, "predicted_ml": 1.0, "false_ml": 0.4, "missed_ml": 0.2}
    rows = [
        {"structure": "tumor", "dice": 0.5, "iou": 0.4, "hd95_mm": 1.0, **volumes_ml(prediction, reference, 1, 0.002)},
        {"structure": "tumor", "dice": 0.5, "iou": 0.4, "hd95_mm": 1.0, **volumes_ml(reference, prediction, 1, 0.002)},
    ]
    assert summarise(rows)["tumor"]["volumes_ml"] == {
        "reference_ml": 1.8, "predicted_ml": 1.8, "false_ml": 0.6, "missed_ml": 0.6, "drawn_larger": 1,
    }
    assert "volumes_ml" not in summarise([{k: v for k, v in rows[0].items() if k != "false_ml"}])["tumor"]

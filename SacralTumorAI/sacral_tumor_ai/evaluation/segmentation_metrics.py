"""Overlap and surface-distance metrics between two binary masks on the same grid (distances in mm).

Conventions for empty masks: both empty -> Dice 1, IoU 1, HD95 0 (nothing to find, nothing found); one
empty -> Dice 0, IoU 0, HD95 NaN (undefined; reported, not averaged as a number).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def _surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with a 6-connected neighbour outside it (the image border counts as outside)."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def hausdorff95(a: np.ndarray, b: np.ndarray, spacing_xyz: tuple[float, float, float]) -> float:
    """95th-percentile symmetric Hausdorff distance in mm between the masks' surfaces (the larger of the two
    directed percentiles, as MONAI computes it), on arrays ordered z, y, x."""
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return math.nan
    # Only the union's bounding box matters: every surface voxel of either mask lies inside it.
    union = np.argwhere(a | b)
    low = np.maximum(union.min(axis=0) - 1, 0)
    high = union.max(axis=0) + 2
    box = tuple(slice(l, h) for l, h in zip(low, high))
    surfaces = [_surface(a[box]), _surface(b[box])]
    sampling = tuple(reversed(spacing_xyz))
    directed = []
    for source, target in (surfaces, surfaces[::-1]):
        distance_to_target = ndimage.distance_transform_edt(~target, sampling=sampling)
        directed.append(np.percentile(distance_to_target[source], 95))
    return float(max(directed))


def structure_metrics(prediction: np.ndarray, reference: np.ndarray, value: int, spacing_xyz: tuple[float, float, float], with_hd95: bool = True) -> dict[str, float]:
    """Dice, IoU and HD95 of one label (HD95 NaN, i.e. not computed, unless ``with_hd95``)."""
    a, b = prediction == value, reference == value
    return {"dice": dice(a, b), "iou": iou(a, b), "hd95_mm": hausdorff95(a, b, spacing_xyz) if with_hd95 else math.nan}


def score_labels(prediction: np.ndarray, reference: np.ndarray, spacing_xyz: tuple[float, float, float], structures: tuple[str, ...] | None = None, with_hd95: bool = True) -> list[dict[str, Any]]:
    """One row per label (``structures`` only, when given) that either mask holds; a label absent from both
    was correctly not predicted and is not scored."""
    from sacral_tumor_ai.labels import LABELS

    rows = []
    for label in LABELS:
        if structures is not None and label.name not in structures:
            continue
        if (reference == label.value).any() or (prediction == label.value).any():
            rows.append({"structure": label.name, **structure_metrics(prediction, reference, label.value, spacing_xyz, with_hd95)})
    return rows

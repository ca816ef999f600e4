"""``sacral-tumor-ai calibrate-edges``: the HU thresholds of the bone-edge refinement, chosen on validation cases.

Each validation case with bone labels and an input finer than the model grid is segmented by the full
pipeline without the refinement; then every pair of thresholds on a grid (peel below ``SHELL_GRID`` HU, grow
from ``GROW_GRID`` HU, each also off) is applied with the refinement's own functions and scored at the input's
resolution. The mildest pair within a small tolerance of the highest mean bone Dice is written into a copy of
the package's metadata with the search's record; if no pair beats the unrefined bones by more than that
tolerance, the refinement stays off. Only the test split, measured afterwards with ``evaluate-seg``, is
unbiased.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.bone_edges import BoneEdges, value_boxes, edge_candidates, grown, peeled, refinable_structure
from sacral_tumor_ai.ctseg.pipeline import segment_ct
from sacral_tumor_ai.ctseg.spec import CTModelSpec, bone_values
from sacral_tumor_ai.errors import AnatomyNotFoundError, SacralTumorAIError
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import LABELS
from sacral_tumor_ai.models.package import ModelPackage, install_package, load_package
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.training.datalist import load_datalists
from sacral_tumor_ai.training.seg_data import is_partly_labelled

# The peel threshold stops at 300 HU, about the half-maximum edge of real cortical bone at 1 mm: in the real
# example CT (0.98 x 0.98 x 2 mm, the spine), the outermost voxel of bone above 250 HU is 260-450 HU (10th-90th
# percentile), the next one in 300-740 HU, soft tissue about 40 HU. Higher thresholds scored up to 0.003 more
# mean bone Dice on generated validation cases, whose cortex is brighter, but would peel real cortex.
SHELL_GRID: tuple[float | None, ...] = (None, 100.0, 150.0, 200.0, 250.0, 300.0)
GROW_GRID: tuple[float | None, ...] = (None, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0)
TOLERANCE = 0.002  # mean bone Dice a milder pair may give up against the best one
NAMES = {label.value: label.name for label in LABELS}


@dataclass(frozen=True)
class EdgeScores:
    """One case's bone Dice (label name -> value) for each threshold pair (shell, grow)."""

    case_id: str
    dice: dict[tuple[float | None, float | None], dict[str, float]]


def without_refinement(package: ModelPackage) -> ModelPackage:
    """The same package (same weights) with its bone-edge refinement switched off."""
    inference = {**package.metadata.get("inference", {}), "bone_edges": None}
    return ModelPackage(package.folder, {**package.metadata, "inference": inference})


def _dice(predicted: np.ndarray, reference: np.ndarray, reference_outside: int) -> float:
    """Dice of a bone whose prediction lies inside the box; ``reference_outside`` reference voxels lie out of it."""
    total = int(predicted.sum()) + int(reference.sum()) + reference_outside
    return 1.0 if total == 0 else 2.0 * int((predicted & reference).sum()) / total


def score_case(
    labels: np.ndarray, hounsfield: np.ndarray, reference: np.ndarray, values: tuple[int, ...], structure: np.ndarray, case_id: str = "",
) -> EdgeScores:
    """Bone Dice of every threshold pair of the grids, for one case's unrefined labels (all z-y-x arrays)."""
    dice: dict[tuple[float | None, float | None], dict[str, float]] = {pair: {} for pair in product(SHELL_GRID, GROW_GRID)}
    boxes = value_boxes(labels, values, margin=1)
    for value in values:
        truth = reference == value
        box = boxes.get(value)
        if box is None:
            for pair in dice:
                dice[pair][NAMES[value]] = _dice(np.zeros(0, bool), np.zeros(0, bool), int(truth.sum()))
            continue
        candidates = edge_candidates(labels[box], hounsfield[box], value, structure)
        inside = truth[box]
        outside = int(truth.sum()) - int(inside.sum())
        for shell in SHELL_GRID:
            removed = peeled(candidates, shell)
            kept = candidates.mask & ~removed
            for grow in GROW_GRID:
                dice[(shell, grow)][NAMES[value]] = _dice(kept | grown(candidates, removed, grow, structure), inside, outside)
    return EdgeScores(case_id, dice)


def pair_means(scores: list[EdgeScores]) -> dict[tuple[float | None, float | None], dict[str, float]]:
    """Per threshold pair, each bone's mean Dice over the cases."""
    names = sorted({name for case in scores for name in case.dice[(None, None)]})
    return {pair: {name: float(np.mean([case.dice[pair][name] for case in scores])) for name in names} for pair in product(SHELL_GRID, GROW_GRID)}


def _mildness(pair: tuple[float | None, float | None]) -> tuple[float, float]:
    """Sort key, mildest first: a lower peel threshold and a higher grow threshold change fewer voxels."""
    shell, grow = pair
    return (-np.inf if shell is None else shell, -(np.inf if grow is None else grow))


def best_pair(scores: list[EdgeScores], tolerance: float = TOLERANCE) -> tuple[tuple[float | None, float | None], dict[str, float], dict[str, float]]:
    """The mildest threshold pair whose mean bone Dice is within ``tolerance`` of the best pair's (the optimum
    is flat, and a milder rule depends less on how bright the validation cases' cortex is), with its
    per-bone mean Dice and the unrefined one. The unrefined pair wins unless a pair beats it by more."""
    means = pair_means(scores)
    objective = {pair: float(np.mean(list(dice.values()))) for pair, dice in means.items()}
    unrefined = objective[(None, None)]
    top = max(objective.values())
    if top <= unrefined + tolerance:
        return (None, None), means[(None, None)], means[(None, None)]
    chosen = min((pair for pair, value in objective.items() if value >= top - tolerance), key=_mildness)
    return chosen, means[chosen], means[(None, None)]


def calibrate_bone_edges(
    model: str | Path, datalists: list[str | Path], split: str, out: str | Path, limit: int | None = None,
    version: str | None = None, device: str = "cpu", progress: Progress | None = None,
) -> dict[str, Any]:
    """Choose the refinement's thresholds on ``split`` of the data lists (``limit`` cases of each) and write
    the package with them to ``out``; tumour-only cases and inputs no finer than the model grid are skipped."""
    progress = progress or Progress()
    source = load_package(model)
    package = without_refinement(source)
    spec = CTModelSpec.from_metadata(package.metadata)
    values = bone_values(spec)
    items = load_datalists(datalists, split, limit)
    scores, skipped = [], []
    for number, item in enumerate(items):
        progress.step(0.95 * number / len(items), f"segmenting validation case {number + 1} of {len(items)}")
        case_id = str(item.get("case_id", Path(item["image"]).name))
        image = read_image(item["image"])
        structure = refinable_structure(image.GetSpacing(), spec.spacing)
        if structure is None or is_partly_labelled(item, spec.output_labels):
            skipped.append(case_id)
            continue
        try:
            labelmap = segment_ct(image, package, device=device, source=case_id).labelmap
        except AnatomyNotFoundError:  # scored as a failure by evaluate-seg; no edges to refine here
            skipped.append(case_id)
            continue
        reference = sitk.GetArrayFromImage(read_image(item["label"]))
        scores.append(score_case(sitk.GetArrayViewFromImage(labelmap), sitk.GetArrayViewFromImage(image), reference, values, structure, case_id))
    if not scores:
        raise SacralTumorAIError(
            f"no {split} case with bone labels and an input finer than the model's {spec.spacing} mm grid; nothing to calibrate on"
        )
    (shell, grow), after, before = best_pair(scores)
    edges = BoneEdges(shell, grow)
    record = {
        "method": f"the mildest HU thresholds (peel, grow) within {TOLERANCE} of the highest mean validation bone Dice at the input's resolution",
        "datalists": [str(d) for d in datalists], "split": split, "cases": len(scores), "skipped": len(skipped),
        "validation_dice_before": before, "validation_dice_after": after, "tolerance": TOLERANCE,
        "mean_bone_dice_by_pair": [[peel, grow_from, round(float(np.mean(list(dice.values()))), 4)] for (peel, grow_from), dice in pair_means(scores).items()],
    }
    inference = {**source.metadata.get("inference", {}), "bone_edges": edges.to_metadata() if edges.active else None, "bone_edges_calibration": record}
    calibrated = install_package(model, out, {}, version=version, updates={"inference": inference})
    progress.step(1.0, "done")
    return {"package": str(calibrated.folder), "bone_edges": inference["bone_edges"], "calibration": record}

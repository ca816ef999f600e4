"""``sacral-tumor-ai calibrate-tumour-edges``: whether, and from what density contrast, a CT model's tumour
rim is peeled (``ctseg.tumour_edges``), chosen on validation cases.

Each validation case is predicted once; its tumour is decided as the pipeline decides it (the package's
offsets, far pieces dropped) and scored on the model grid against the reference without the refinement and
with it at each contrast of ``CONTRASTS_HU``. The mildest setting (no refinement first, then the highest
contrast) within ``TOLERANCE`` of the best mean tumour Dice is written into a copy of the package with the
search's record. Measure the result on the test split with ``evaluate-seg``: the validation cases chose it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.ctseg.tumour_edges import TumourEdges, refine_tumour_edges, soft_tissue_channel
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.evaluation.calibrate_seg import CalibrationCase, collect_case, pipeline_labels, tumour_probability
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import install_package, load_package
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.training.datalist import load_datalists

CONTRASTS_HU = (None, 20.0, 15.0, 10.0, 5.0, 0.0)  # None: no refinement; mildest first
TOLERANCE = 0.002


def case_scores(case: CalibrationCase, spec: CTModelSpec) -> list[float]:
    """The case's tumour Dice on the model grid at each of ``CONTRASTS_HU``."""
    labels = pipeline_labels(case, spec)
    probability = tumour_probability(case, spec)
    reference = case.reference == TUMOR.value
    scores = []
    for contrast in CONTRASTS_HU:
        refined = labels.copy()
        if contrast is not None:
            refine_tumour_edges(refined, probability, case.hounsfield, TUMOR.value, TumourEdges(contrast))
        scores.append(float(dice(refined == TUMOR.value, reference)))
    return scores


def choose_contrast(scores: list[list[float]]) -> tuple[float | None, list[float]]:
    """The mildest contrast within ``TOLERANCE`` of the best mean Dice, and the means by contrast."""
    means = [float(value) for value in np.mean(scores, axis=0)]
    best = max(means)
    chosen = next(i for i, value in enumerate(means) if value >= best - TOLERANCE)
    return CONTRASTS_HU[chosen], means


def calibrate_tumour_edges(
    model: str | Path, datalists: list[str | Path], split: str, out: str | Path, limit: int | None = None,
    version: str | None = None, device: str = "cpu", progress: Progress | None = None,
) -> dict[str, Any]:
    """Choose the tumour-edge refinement on ``split`` of the data lists (``limit`` cases of each, those with a
    labelled tumour) and write the package with it to ``out`` (its other calibrations stay)."""
    progress = progress or Progress()
    package = load_package(model)
    spec = CTModelSpec.from_metadata(package.metadata)
    if spec.tumour_channel() is None:
        raise SacralTumorAIError(f"{model}: the model outputs no tumour")
    soft_tissue_channel(spec.windows)  # a model without a soft-tissue window is refused before any prediction
    network = load_network(package, device)
    items = load_datalists(datalists, split, limit)
    scores, skipped = [], []
    for number, item in enumerate(items):
        progress.step(0.95 * number / len(items), f"predicting validation case {number + 1} of {len(items)}")
        case = collect_case(item, network, spec, device, with_hounsfield=True)
        if not np.any(case.reference == TUMOR.value):
            skipped.append(case.case_id)
            continue
        scores.append(case_scores(case, spec))
    if not scores:
        raise SacralTumorAIError(f"no {split} case with a labelled tumour; nothing to calibrate on")
    contrast, means = choose_contrast(scores)
    record = {
        "method": f"the mildest setting (off, then the highest contrast) within {TOLERANCE} of the highest mean validation tumour Dice on the model grid",
        "datalists": [str(d) for d in datalists], "split": split, "cases": len(scores), "skipped": len(skipped),
        "mean_tumour_dice_by_contrast_hu": [["off" if c is None else c, round(m, 4)] for c, m in zip(CONTRASTS_HU, means)],
    }
    edges = None if contrast is None else TumourEdges(contrast).to_metadata()
    inference = {**package.metadata.get("inference", {}), "tumour_edges": edges, "tumour_edges_calibration": record}
    calibrated = install_package(model, out, {}, version=version, updates={"inference": inference})
    progress.step(1.0, "done")
    return {"package": str(calibrated.folder), "tumour_edges": edges, "calibration": record}

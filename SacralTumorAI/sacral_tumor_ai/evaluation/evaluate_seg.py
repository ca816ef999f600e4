"""``sacral-tumor-ai evaluate-seg``: the full pipeline on each case of a split, scored at native resolution."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.pipeline import segment_ct
from sacral_tumor_ai.errors import AnatomyNotFoundError
from sacral_tumor_ai.evaluation.segmentation_metrics import score_labels
from sacral_tumor_ai.io import atomic_output, read_image, write_json
from sacral_tumor_ai.labels import LABELS, label_by_name
from sacral_tumor_ai.models.package import load_package
from sacral_tumor_ai.training.datalist import load_datalist

METRICS = ("dice", "iou", "hd95_mm")
VOLUMES = ("reference_ml", "predicted_ml", "false_ml", "missed_ml")  # which way a structure's errors go


def volumes_ml(prediction: np.ndarray, reference: np.ndarray, value: int, voxel_ml: float) -> dict[str, float]:
    """A structure's labelled and drawn volume, and what was drawn outside the label (false) or left out of
    it (missed): Dice alone does not say whether a structure is drawn too large or too small."""
    drawn, labelled = prediction == value, reference == value
    counts = (labelled.sum(), drawn.sum(), (drawn & ~labelled).sum(), (labelled & ~drawn).sum())
    return {name: round(float(count) * voxel_ml, 3) for name, count in zip(VOLUMES, counts)}


def _volume_summary(values: list[dict[str, Any]]) -> dict[str, Any]:
    """Volumes added up over the cases, and how many cases were drawn larger than labelled."""
    totals = {name: round(sum(row[name] for row in values), 3) for name in VOLUMES}
    return {**totals, "drawn_larger": sum(row["predicted_ml"] > row["reference_ml"] for row in values)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and SD of each metric per structure; HD95 ignores undefined (NaN) cases and counts them (a mean
    with no defined case is None, so the JSON stays strict)."""
    summary: dict[str, Any] = {}
    for label in LABELS:
        values = [row for row in rows if row["structure"] == label.name]
        if not values:
            continue
        entry: dict[str, Any] = {"cases": len(values)}
        for metric in METRICS:
            numbers = np.array([row[metric] for row in values], dtype=float)
            finite = numbers[np.isfinite(numbers)]
            entry[metric] = {
                "mean": float(finite.mean()) if finite.size else None,  # None (JSON null): no defined value
                "sd": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
                "undefined": int(numbers.size - finite.size),
            }
        if all(name in row for row in values for name in VOLUMES):
            entry["volumes_ml"] = _volume_summary(values)
        summary[label.name] = entry
    return summary


def evaluate_segmentation_model(
    model: str | Path, datalist: str | Path, split: str, out: str | Path, provider: str = "model",
    device: str = "cpu", limit: int | None = None, structures: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Per-case, per-structure Dice, IoU, HD95 and volumes (CSV) and their mean +- SD (JSON; the volumes
    added up) in ``out``.

    ``structures`` limits scoring to some labels, for references that hold only those (for example lesions
    inserted into a real CT, labelled tumour only).
    """
    package = load_package(model)
    items = load_datalist(datalist, split)[:limit]
    rows: list[dict[str, Any]] = []
    seconds = []
    failures: list[dict[str, str]] = []
    for item in items:
        image = read_image(item["image"])
        reference = sitk.GetArrayFromImage(read_image(item["label"]))
        try:
            result = segment_ct(image, package, provider, device, source=item["image"])
            seconds.append(result.timings_s["total"])
            prediction = sitk.GetArrayFromImage(result.labelmap)
        except AnatomyNotFoundError as error:
            # The pipeline refused the case (e.g. the provider found no pelvis): it scores as an empty mask.
            failures.append({"case_id": item.get("case_id", Path(item["image"]).name), "error": str(error)})
            prediction = np.zeros_like(reference)
        case_id = item.get("case_id", Path(item["image"]).name)
        voxel_ml = float(np.prod(image.GetSpacing())) / 1000.0
        rows += [
            {"case_id": case_id, **row, **volumes_ml(prediction, reference, label_by_name(row["structure"]).value, voxel_ml)}
            for row in score_labels(prediction, reference, image.GetSpacing(), structures)
        ]
    out = Path(out)
    with atomic_output(out / "metrics.csv") as temporary, temporary.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["case_id", "structure", *METRICS, *VOLUMES])
        writer.writeheader()
        writer.writerows(rows)
    result = {
        "model": {"name": package.name, "version": package.version},
        "datalist": str(datalist), "split": split, "provider": provider, "cases": len(items),
        "structures": list(structures) if structures else [label.name for label in LABELS],
        "seconds_per_case": float(np.mean(seconds)) if seconds else None,
        "summary": summarise(rows),
        "refused_cases": failures,
    }
    write_json(result, out / "metrics.json")
    return result

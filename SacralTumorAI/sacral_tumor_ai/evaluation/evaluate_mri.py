"""``sacral-tumor-ai evaluate-mri``: seed 2's tables on a generated MRI cohort, through the product's pipeline.

For every test case: the All-sequence model on each sequence alone and on every combination of two or more
sequences (Table 3's layout: the model's outputs on each, registered to the first by preference, averaged),
the T2-fusion model on T2-w + CET1-w, and optionally a 2D baseline (the same network on single slices) on
each sequence alone, so the 2.5D gain is measured. Scores: Dice and IoU (HD95 too) per structure against the
fine masks (every tumour slice) on the reference sequence's own grid.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import AnatomyNotFoundError
from sacral_tumor_ai.evaluation.evaluate_seg import METRICS, summarise
from sacral_tumor_ai.evaluation.segmentation_metrics import score_labels
from sacral_tumor_ai.io import atomic_output, read_image, write_json
from sacral_tumor_ai.models.package import ModelPackage, load_package
from sacral_tumor_ai.mriseg.pipeline import StudyCache, segment_mri
from sacral_tumor_ai.mriseg.plan import ALL_SEQUENCE, PREFERENCE, T2_FUSION, MriPlan, method_name
from sacral_tumor_ai.mriseg.spec import SEQUENCES
from sacral_tumor_ai.training.datalist import load_datalist


def combinations(sequences: tuple[str, ...] = SEQUENCES, largest: int = 4) -> list[tuple[str, ...]]:
    """Every non-empty combination up to ``largest`` sequences, each ordered by preference (reference first)."""
    ordered = [s for s in PREFERENCE if s in sequences]
    return [combo for size in range(1, largest + 1) for combo in itertools.combinations(ordered, size)]


def _score(segmentation, truth: sitk.Image, with_hd95: bool) -> list[dict[str, Any]]:
    reference = sitk.GetArrayFromImage(truth)
    prediction = np.zeros_like(reference) if segmentation is None else sitk.GetArrayFromImage(segmentation.labelmap)
    return score_labels(prediction, reference, truth.GetSpacing(), with_hd95=with_hd95)


def _runs(allseq: ModelPackage, fusion: ModelPackage | None, baseline: ModelPackage | None, largest: int, sequences: tuple[str, ...]) -> list[tuple[str, ModelPackage, MriPlan]]:
    runs = [(method_name("2.5D All-sequence", combo), allseq, MriPlan(ALL_SEQUENCE, combo[0], combo)) for combo in combinations(sequences, largest)]
    if fusion is not None and {"t2", "cet1"} <= set(sequences):
        runs.append((method_name("2.5D T2-fusion", ("t2", "cet1")), fusion, MriPlan(T2_FUSION, "t2", ("t2", "cet1"))))
    if baseline is not None:
        runs += [(method_name("2D All-sequence", (s,)), baseline, MriPlan(ALL_SEQUENCE, s, (s,))) for s in PREFERENCE if s in sequences]
    return runs


def evaluate_mri_models(
    model: str | Path, datalist: str | Path, split: str, out: str | Path, fusion_model: str | Path | None = None,
    baseline_2d: str | Path | None = None, largest_combination: int = 4, device: str = "cpu", limit: int | None = None,
    sequences: tuple[str, ...] = SEQUENCES, with_hd95: bool = False, log=print,
) -> dict[str, Any]:
    """metrics.csv (case, method, structure, Dice, IoU, HD95 when ``with_hd95``: seed 2 reports Dice and IoU),
    metrics.json (mean +- SD per method) and table.md (seed 2's Table 3 layout) in ``out``."""
    allseq = load_package(model)
    fusion = load_package(fusion_model) if fusion_model else None
    baseline = load_package(baseline_2d) if baseline_2d else None
    items = load_datalist(datalist, split)[:limit]
    runs = _runs(allseq, fusion, baseline, largest_combination, tuple(sequences))
    rows: list[dict[str, Any]] = []
    refused: list[dict[str, str]] = []
    for number, item in enumerate(items):
        images = {s: read_image(item["sequences"][s]["image"]) for s in sequences}
        truths = {s: read_image(item["sequences"][s]["label_fine"]) for s in {plan.reference for _, _, plan in runs}}
        cache = StudyCache()
        for method, package, plan in runs:
            try:
                segmentation = segment_mri(images, package, plan, device, cache=cache)
            except AnatomyNotFoundError as error:
                refused.append({"case_id": item["case_id"], "method": method, "error": str(error)})
                segmentation = None
            rows += [{"case_id": item["case_id"], "method": method, **row} for row in _score(segmentation, truths[plan.reference], with_hd95)]
        log(f"{number + 1}/{len(items)} cases")
    out = Path(out)
    with atomic_output(out / "metrics.csv") as temporary, temporary.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["case_id", "method", "structure", *METRICS])
        writer.writeheader()
        writer.writerows(rows)
    methods = {method: summarise([r for r in rows if r["method"] == method]) for method, _, _ in runs}
    if not with_hd95:  # not computed: left out rather than written as NaN (which strict JSON readers refuse)
        methods = {method: {name: {k: v for k, v in entry.items() if k != "hd95_mm"} for name, entry in summary.items()} for method, summary in methods.items()}
    result = {
        "models": {name: {"name": p.name, "version": p.version} for name, p in (("all_sequence", allseq), ("t2_fusion", fusion), ("baseline_2d", baseline)) if p},
        "datalist": str(datalist), "split": split, "cases": len(items), "sequences": list(sequences), "reference_masks": "fine (every tumour slice)",
        "methods": methods, "refused": refused,
    }
    write_json(result, out / "metrics.json")
    (out / "table.md").write_text(markdown_table(methods), encoding="utf-8")
    return result


def markdown_table(methods: dict[str, Any]) -> str:
    """Tumour Dice and IoU (mean +- SD) per method, as seed 2's Table 3 lays them out."""
    lines = ["| method | cases | tumour Dice | tumour IoU | hip L Dice | hip R Dice | sacrum Dice |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for method, summary in methods.items():
        def cell(structure: str, metric: str) -> str:
            entry = summary.get(structure, {}).get(metric)
            return "-" if not entry or entry["mean"] is None else f"{entry['mean']:.3f} ± {entry['sd']:.3f}"

        cases = summary.get("tumor", {}).get("cases", 0)
        lines.append(f"| {method} | {cases} | {cell('tumor', 'dice')} | {cell('tumor', 'iou')} | {cell('hip_left', 'dice')} | {cell('hip_right', 'dice')} | {cell('sacrum', 'dice')} |")
    return "\n".join(lines) + "\n"

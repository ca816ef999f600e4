"""``evaluate-cls`` and ``compare-cls``: seed 1's statistics for a classifier on a data-list split, and two
sets of predictions on the same cases compared (DeLong per class, bootstrap for the macro AUC)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai.classify.cases import prepare_cases
from sacral_tumor_ai.classify.metrics import bootstrap_ci, classification_report, delong_test, macro_auc
from sacral_tumor_ai.classify.plots import confusion_png, roc_png
from sacral_tumor_ai.classify.predictions import read_predictions, read_truth, write_predictions
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.io import write_json
from sacral_tumor_ai.training.datalist import load_datalist


def evaluate_classifier(model: str | Path, datalist: str | Path, split: str, out: str | Path, device: str = "cpu", samples: int = 2000, seed: int = 0, cache: str | Path | None = None) -> dict[str, Any]:
    """Classify every case of ``split`` (its label's tumour, its clinical values) and write predictions.csv,
    metrics.json, confusion.png and roc.png into ``out``."""
    from sacral_tumor_ai.classify.predict import Classifier
    from sacral_tumor_ai.classify.scalars import gather
    from sacral_tumor_ai.models.package import load_package

    classifier = Classifier(load_package(model), device)
    out = Path(out)
    cases = prepare_cases(load_datalist(datalist, split), classifier.crop, Path(cache) if cache else out / "cache")
    scores = np.array([classifier.probabilities(case["crop"], gather(classifier.scalars, case["clinical"], case["location"])) for case in cases])
    truth = [case["class"] for case in cases]
    y_true = np.array([classifier.classes.index(t) for t in truth])
    report = classification_report(y_true, scores, classifier.classes, samples, seed)
    report.update({"model": {"name": classifier.package.name, "version": classifier.package.version, "inputs": list(classifier.groups)}, "split": split, "datalist": str(datalist)})
    write_predictions(out / "predictions.csv", [c["case_id"] for c in cases], truth, scores, classifier.classes)
    confusion_png(np.array(report["confusion_matrix"]["rows_true_columns_predicted"]), classifier.classes, out / "confusion.png")
    roc_png(y_true, scores, classifier.classes, {k: v["auc"] for k, v in report["per_class"].items()}, out / "roc.png")
    write_json(report, out / "metrics.json")
    return report


def compare_predictions(a: str | Path, b: str | Path, classes: list[str], out: str | Path, samples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Two prediction files on the same cases (truth from ``a``): per-class AUCs compared with DeLong's
    test, and the macro AUC difference with a paired bootstrap interval."""
    truth = read_truth(a)
    scores_a, scores_b = read_predictions(a, classes), read_predictions(b, classes)
    cases = sorted(truth)
    missing = [case for case in cases if case not in scores_b]
    if missing:
        raise SacralTumorAIError(f"{b}: no prediction for {len(missing)} case(s) of {a}, e.g. {missing[0]}")
    y = np.array([classes.index(truth[case]) for case in cases])
    sa, sb = np.stack([scores_a[c] for c in cases]), np.stack([scores_b[c] for c in cases])
    per_class = {}
    for index, name in enumerate(classes):
        positive = y == index
        if 0 < positive.sum() < len(y):
            result = delong_test(positive, sa[:, index], sb[:, index])
            per_class[name] = {"auc_a": result.auc_a, "auc_b": result.auc_b, "difference": result.difference, "z": result.z, "p_value": result.p_value, "difference_ci95": list(result.difference_ci95)}
    both = np.concatenate([sa, sb], axis=1)
    k = len(classes)
    difference = lambda t, s: macro_auc(t, s[:, :k]) - macro_auc(t, s[:, k:])  # noqa: E731 - paired resamples
    summary = {
        "cases": len(cases),
        "a": str(a),
        "b": str(b),
        "macro_auc_a": macro_auc(y, sa),
        "macro_auc_b": macro_auc(y, sb),
        "macro_auc_difference": macro_auc(y, sa) - macro_auc(y, sb),
        "macro_auc_difference_ci95": list(bootstrap_ci(y, both, difference, samples, seed)),
        "per_class_delong": per_class,
    }
    write_json(summary, Path(out) / "comparison.json")
    return summary

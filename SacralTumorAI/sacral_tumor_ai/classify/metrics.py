"""Classification statistics as seed 1 reports them: one-vs-rest AUC per class and macro, with bootstrap 95%
confidence intervals; macro F1; per-class precision, sensitivity and specificity; the confusion matrix; and
DeLong's test for two correlated AUCs (the same cases scored twice, for example model vs radiologist).

Inputs: ``y_true`` class indices (n,), ``scores`` class probabilities (n, k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix as _confusion_matrix
from sklearn.metrics import f1_score, roc_auc_score


def per_class_auc(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC of each class (NaN for a class absent from ``y_true`` or present in every case)."""
    aucs = np.full(scores.shape[1], np.nan)
    for k in range(scores.shape[1]):
        positive = y_true == k
        if 0 < positive.sum() < len(y_true):
            aucs[k] = roc_auc_score(positive, scores[:, k])
    return aucs


def macro_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Unweighted mean of the defined one-vs-rest AUCs (sklearn's ``multi_class="ovr", average="macro"``)."""
    return float(np.nanmean(per_class_auc(y_true, scores)))


def bootstrap_ci(
    y_true: np.ndarray, scores: np.ndarray, statistic, samples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``statistic(y_true, scores)`` over case resamples; resamples missing a class
    are redrawn, so every AUC is defined. Reproducible for a seed."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y_true)
    values = []
    while len(values) < samples:
        index = rng.integers(0, len(y_true), len(y_true))
        if len(np.unique(y_true[index])) < len(classes):
            continue
        values.append(statistic(y_true[index], scores[index]))
    low, high = np.percentile(values, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    return _confusion_matrix(y_true, y_pred, labels=list(range(classes)))


def per_class_rates(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, sensitivity (recall) and specificity of each class from a confusion matrix."""
    true_positive = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    actual = matrix.sum(axis=1).astype(float)
    true_negative = matrix.sum() - predicted - actual + true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "precision": np.where(predicted > 0, true_positive / predicted, np.nan),
            "sensitivity": np.where(actual > 0, true_positive / actual, np.nan),
            "specificity": true_negative / (matrix.sum() - actual),
        }


def classification_report(y_true: np.ndarray, scores: np.ndarray, class_names: list[str], samples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Everything seed 1 reports, as a JSON-ready dict (NaN written as None)."""
    y_pred = scores.argmax(axis=1)
    k = len(class_names)
    matrix = confusion(y_true, y_pred, k)
    rates = per_class_rates(matrix)
    aucs = per_class_auc(y_true, scores)
    per_class = {}
    for index, name in enumerate(class_names):
        ci = bootstrap_ci(y_true, scores, lambda t, s, i=index: roc_auc_score(t == i, s[:, i]), samples, seed) if not np.isnan(aucs[index]) else (None, None)
        per_class[name] = {
            "cases": int((y_true == index).sum()),
            "auc": _value(aucs[index]),
            "auc_ci95": list(ci),
            **{metric: _value(values[index]) for metric, values in rates.items()},
        }
    return {
        "cases": int(len(y_true)),
        "macro_auc": macro_auc(y_true, scores),
        "macro_auc_ci95": list(bootstrap_ci(y_true, scores, macro_auc, samples, seed)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0)),
        "accuracy": float((y_pred == y_true).mean()),
        "per_class": per_class,
        "confusion_matrix": {"classes": class_names, "rows_true_columns_predicted": matrix.tolist()},
        "bootstrap": {"samples": samples, "seed": seed, "method": "percentile, case resampling"},
    }


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    difference: float
    z: float
    p_value: float
    difference_ci95: tuple[float, float]


def _placements(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: for each positive, the share of negatives it outranks (ties 1/2),
    and for each negative, the share of positives that outrank it (midranks, Sun & Xu 2014)."""
    m, n = len(positive), len(negative)
    together = np.concatenate([positive, negative])
    ranks = stats.rankdata(together)
    v10 = (ranks[:m] - stats.rankdata(positive)) / n
    v01 = 1.0 - (ranks[m:] - stats.rankdata(negative)) / m
    return v10, v01


def delong_test(positive_mask: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> DeLongResult:
    """DeLong, DeLong & Clarke-Pearson (1988): two-sided test that two correlated AUCs on the same cases are
    equal. ``positive_mask`` marks the cases of the positive class."""
    positive_mask = np.asarray(positive_mask, bool)
    components = [_placements(np.asarray(s, float)[positive_mask], np.asarray(s, float)[~positive_mask]) for s in (scores_a, scores_b)]
    v10 = np.stack([c[0] for c in components])
    v01 = np.stack([c[1] for c in components])
    aucs = v10.mean(axis=1)
    covariance = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = float(aucs[0] - aucs[1])
    if variance <= 0:
        return DeLongResult(float(aucs[0]), float(aucs[1]), difference, 0.0, 1.0, (difference, difference))
    z = difference / np.sqrt(variance)
    half = stats.norm.ppf(0.975) * np.sqrt(variance)
    return DeLongResult(float(aucs[0]), float(aucs[1]), difference, float(z), float(2 * stats.norm.sf(abs(z))), (difference - half, difference + half))

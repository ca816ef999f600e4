"""Classification statistics: agreement with scikit-learn, DeLong against pROC's published values,
reproducible bootstrap intervals."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from sacral_tumor_ai.classify.metrics import (
    bootstrap_ci,
    classification_report,
    delong_test,
    macro_auc,
    per_class_auc,
)

DATA = Path(__file__).parent / "data"


def _random_case(seed: int = 0, n: int = 150, k: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, scores


def test_aucs_agree_with_scikit_learn() -> None:
    y, scores = _random_case()
    assert macro_auc(y, scores) == pytest.approx(roc_auc_score(y, scores, multi_class="ovr", average="macro"), abs=1e-12)
    for k, auc in enumerate(per_class_auc(y, scores)):
        assert auc == pytest.approx(roc_auc_score(y == k, scores[:, k]), abs=1e-12)


def test_report_agrees_with_scikit_learn() -> None:
    y, scores = _random_case(1)
    names = [f"c{k}" for k in range(6)]
    report = classification_report(y, scores, names, samples=200)
    predicted = scores.argmax(axis=1)
    assert report["macro_f1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert report["confusion_matrix"]["rows_true_columns_predicted"] == confusion_matrix(y, predicted).tolist()
    precision = precision_score(y, predicted, average=None)
    recall = recall_score(y, predicted, average=None)
    for k, name in enumerate(names):
        assert report["per_class"][name]["precision"] == pytest.approx(precision[k])
        assert report["per_class"][name]["sensitivity"] == pytest.approx(recall[k])
        negatives = y != k
        specificity = np.mean(predicted[negatives] != k)
        assert report["per_class"][name]["specificity"] == pytest.approx(specificity)
        low, high = report["per_class"][name]["auc_ci95"]
        assert low <= report["per_class"][name]["auc"] <= high
    low, high = report["macro_auc_ci95"]
    assert low < report["macro_auc"] < high


def test_bootstrap_is_reproducible_for_a_seed() -> None:
    y, scores = _random_case(2)
    first = bootstrap_ci(y, scores, macro_auc, samples=300, seed=7)
    assert bootstrap_ci(y, scores, macro_auc, samples=300, seed=7) == first
    assert bootstrap_ci(y, scores, macro_auc, samples=300, seed=8) != first


def _asah() -> dict[str, np.ndarray]:
    with (DATA / "asah.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    return {key: np.array([row[key] == "Poor" if key == "outcome" else float(row[key]) for row in rows]) for key in rows[0]}


def test_delong_matches_proc_on_the_asah_example() -> None:
    """pROC: roc.test(roc(outcome, wfns), roc(outcome, s100b)) gives AUC 0.8237 and 0.7314, Z = 2.209,
    p = 0.02718."""
    data = _asah()
    result = delong_test(data["outcome"], data["wfns"], data["s100b"])
    assert result.auc_a == pytest.approx(0.8236789, abs=1e-6)
    assert result.auc_b == pytest.approx(0.7313686, abs=1e-6)
    assert result.z == pytest.approx(2.209, abs=5e-4)
    assert result.p_value == pytest.approx(0.02718, abs=5e-5)
    swapped = delong_test(data["outcome"], data["s100b"], data["wfns"])
    assert swapped.z == pytest.approx(-result.z) and swapped.p_value == pytest.approx(result.p_value)


def test_delong_of_identical_scores_is_no_difference() -> None:
    data = _asah()
    result = delong_test(data["outcome"], data["ndka"], data["ndka"])
    assert result.z == 0.0 and result.p_value == 1.0

"""Prediction tables: ``case_id, true_class, <class>...`` (probabilities) or ``case_id, predicted`` (a
reader's single call, scored 1 for the called class and 0 for the others), read and written as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.io import atomic_output


def write_predictions(path: Path, case_ids: list[str], truth: list[str], scores: np.ndarray, classes: list[str]) -> Path:
    with atomic_output(path) as temporary, temporary.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["case_id", "true_class", *classes, "predicted"])
        for case_id, true_class, row in zip(case_ids, truth, scores):
            writer.writerow([case_id, true_class, *(f"{v:.6f}" for v in row), classes[int(np.argmax(row))]])
    return path


def read_predictions(path: str | Path, classes: list[str]) -> dict[str, np.ndarray]:
    """Case id -> score row over ``classes``; probabilities when the file has a column per class, else the
    one-hot of its ``predicted`` column."""
    path = Path(path)
    if not path.is_file():
        raise SacralTumorAIError(f"{path}: no such predictions file")
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    if not rows or "case_id" not in rows[0]:
        raise SacralTumorAIError(f"{path}: needs a case_id column and one row per case")
    has_scores = all(name in rows[0] for name in classes)
    if not has_scores and "predicted" not in rows[0]:
        raise SacralTumorAIError(f"{path}: needs a column per class ({', '.join(classes)}) or a 'predicted' column")
    scores = {}
    for row in rows:
        if has_scores:
            scores[row["case_id"]] = np.array([float(row[name]) for name in classes])
        else:
            if row["predicted"] not in classes:
                raise SacralTumorAIError(f"{path}: case {row['case_id']}: unknown class {row['predicted']!r}")
            scores[row["case_id"]] = np.eye(len(classes))[classes.index(row["predicted"])]
    return scores


def read_truth(path: str | Path) -> dict[str, str]:
    with Path(path).open(newline="") as stream:
        return {row["case_id"]: row["true_class"] for row in csv.DictReader(stream)}

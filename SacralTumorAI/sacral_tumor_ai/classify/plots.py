"""Confusion matrix and ROC curves as PNGs (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from sacral_tumor_ai.io import atomic_output  # noqa: E402


def _save(figure, path: Path) -> Path:
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100, format="png")
    plt.close(figure)
    return path


def confusion_png(matrix: np.ndarray, classes: list[str], path: Path, title: str = "Confusion matrix") -> Path:
    figure, axis = plt.subplots(figsize=(7, 6))
    axis.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        axis.text(j, i, str(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black")
    axis.set_xticks(range(len(classes)), classes, rotation=40, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.tight_layout()
    return _save(figure, path)


def roc_png(y_true: np.ndarray, scores: np.ndarray, classes: list[str], aucs: dict[str, float | None], path: Path, title: str = "ROC curves (one vs rest)") -> Path:
    figure, axis = plt.subplots(figsize=(6.5, 6))
    for index, name in enumerate(classes):
        positive = y_true == index
        if 0 < positive.sum() < len(y_true):
            fpr, tpr, _ = roc_curve(positive, scores[:, index])
            axis.plot(fpr, tpr, label=f"{name} (AUC {aucs[name]:.2f})")
    axis.plot([0, 1], [0, 1], ":", color="gray")
    axis.set_xlabel("1 - specificity")
    axis.set_ylabel("sensitivity")
    axis.set_title(title)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return _save(figure, path)

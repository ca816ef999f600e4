"""PNG previews a person can look at: three orthogonal slices, optionally with a labelmap overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.io.atomic import atomic_output
from sacral_tumor_ai.labels import LABELS, TUMOR, Label

CT_WINDOW = (-250.0, 1250.0)  # bone and soft tissue of the pelvis in one view


def _to_lps(image: sitk.Image) -> sitk.Image:
    # After this, array axes are (S, P, L) increasing: axial slices show the patient's right on the left.
    return sitk.DICOMOrient(image, "LPS")


def intensity_window(image: sitk.Image, modality: str) -> tuple[float, float]:
    """A display window: a fixed pelvic window for CT, 1st-99th percentile for other images."""
    if modality == "CT":
        return CT_WINDOW
    values = sitk.GetArrayViewFromImage(image).ravel()
    low, high = np.percentile(values[:: max(1, values.size // 1_000_000)], [1, 99])
    return float(low), float(max(high, low + 1e-6))


def _centre(volume: np.ndarray, labels: np.ndarray | None) -> tuple[int, int, int]:
    if labels is not None:
        for value in (TUMOR.value, None):
            voxels = np.argwhere(labels == value) if value is not None else np.argwhere(labels > 0)
            if len(voxels):
                return tuple(int(v) for v in np.round(voxels.mean(axis=0)))
    return tuple(s // 2 for s in volume.shape)


def _overlay(slab: np.ndarray, labels: Sequence[Label]) -> np.ndarray:
    rgba = np.zeros(slab.shape + (4,))
    for label in labels:
        mask = slab == label.value
        rgba[mask, :3] = label.color
        rgba[mask, 3] = 0.45
    return rgba


def draw_orthogonal(axes, image: sitk.Image, modality: str = "CT", labelmap: sitk.Image | None = None) -> None:
    """Draw axial, coronal and sagittal slices through the tumour (or the centre) onto three matplotlib axes."""
    oriented = _to_lps(image)
    volume = sitk.GetArrayFromImage(oriented).astype(np.float32)
    labels = sitk.GetArrayFromImage(_to_lps(labelmap)) if labelmap is not None else None
    sx, sy, sz = oriented.GetSpacing()
    k, j, i = _centre(volume, labels)
    low, high = intensity_window(image, modality)
    views = [
        ("Axial", volume[k], None if labels is None else labels[k], sy / sx, ("R", "L", "A", "P"), "upper"),
        ("Coronal", volume[:, j, :], None if labels is None else labels[:, j, :], sz / sx, ("R", "L", "S", "I"), "lower"),
        ("Sagittal", volume[:, :, i], None if labels is None else labels[:, :, i], sz / sy, ("A", "P", "S", "I"), "lower"),
    ]
    for axis, (name, slab, label_slab, aspect, (left, right, top, bottom), origin) in zip(axes, views):
        axis.imshow(slab, cmap="gray", vmin=low, vmax=high, aspect=aspect, origin=origin, interpolation="bilinear")
        if label_slab is not None:
            axis.imshow(_overlay(label_slab, LABELS), aspect=aspect, origin=origin, interpolation="nearest")
        axis.set_title(name, color="white", fontsize=10)
        for text, xy in ((left, (0.02, 0.5)), (right, (0.98, 0.5)), (top, (0.5, 0.97)), (bottom, (0.5, 0.02))):
            axis.text(*xy, text, color="yellow", fontsize=9, transform=axis.transAxes, ha="center", va="center")
        axis.axis("off")


def save_figure(figure, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG, atomically, and close it."""
    from matplotlib import pyplot as plt

    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100, facecolor="black", format="png")
    plt.close(figure)
    return Path(path)


def save_orthogonal_preview(
    image: sitk.Image,
    path: str | Path,
    modality: str = "CT",
    labelmap: sitk.Image | None = None,
    title: str = "",
) -> Path:
    """Write axial, coronal and sagittal slices through the tumour (or the centre) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(12, 4.4), facecolor="black")
    draw_orthogonal(axes, image, modality, labelmap)
    if title:
        figure.suptitle(title, color="white", fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)

"""PNG previews a person can look at: three orthogonal slices, optionally with a labelmap overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.io.atomic import atomic_output
from sacral_tumor_ai.labels import LABELS, TUMOR, Label

CT_WINDOW = (-250.0, 1250.0)  # bone and soft tissue of the pelvis in one view


def _lps_view(image: sitk.Image) -> tuple[np.ndarray, tuple[float, float, float], list[tuple[int, bool]]]:
    """A view (no copy) of ``image``'s voxels with array axes (S, P, L) increasing, as
    ``sitk.DICOMOrient(image, "LPS")`` would give (axial slices then show the patient's right on the left);
    its x-y-z spacing; and, per view axis, the image array axis and whether it is reversed."""
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    order = []
    for world in (2, 1, 0):  # S, P, L: the view's z, y, x
        axis_ijk = int(np.argmax(np.abs(direction[world])))  # the image axis closest to that world axis
        order.append((2 - axis_ijk, bool(direction[world, axis_ijk] < 0)))
    view = np.transpose(sitk.GetArrayViewFromImage(image), [axis for axis, _ in order])
    view = view[tuple(slice(None, None, -1) if flipped else slice(None) for _, flipped in order)]
    spacing = tuple(float(image.GetSpacing()[2 - axis]) for axis, _ in reversed(order))
    return view, spacing, order


def intensity_window(image: sitk.Image, modality: str) -> tuple[float, float]:
    """A display window: a fixed pelvic window for CT, 1st-99th percentile for other images."""
    if modality == "CT":
        return CT_WINDOW
    values = sitk.GetArrayViewFromImage(image).ravel()
    low, high = np.percentile(values[:: max(1, values.size // 1_000_000)], [1, 99])
    return float(low), float(max(high, low + 1e-6))


def _centre(shape: tuple[int, ...], labelmap: sitk.Image | None, order: list[tuple[int, bool]]) -> tuple[int, int, int]:
    """View index (z, y, x, see :func:`_lps_view`) of the tumour's centroid, else of all labels', else of the
    volume's centre. ITK's label statistics find it without a boolean copy of a big labelmap."""
    if labelmap is not None:
        statistics = sitk.LabelShapeStatisticsImageFilter()
        statistics.Execute(labelmap)
        present = list(statistics.GetLabels())
        chosen = [TUMOR.value] if TUMOR.value in present else present
        if chosen:
            weights = [statistics.GetNumberOfPixels(value) for value in chosen]
            centroid = np.average([statistics.GetCentroid(value) for value in chosen], axis=0, weights=weights)
            index_zyx = labelmap.TransformPhysicalPointToIndex(tuple(float(v) for v in centroid))[::-1]
            view_index = [index_zyx[axis] if not flipped else labelmap.GetSize()[2 - axis] - 1 - index_zyx[axis] for axis, flipped in order]
            return tuple(int(np.clip(v, 0, n - 1)) for v, n in zip(view_index, shape))
    return tuple(s // 2 for s in shape)


def _overlay(slab: np.ndarray, labels: Sequence[Label]) -> np.ndarray:
    rgba = np.zeros(slab.shape + (4,))
    for label in labels:
        mask = slab == label.value
        rgba[mask, :3] = label.color
        rgba[mask, 3] = 0.45
    return rgba


def draw_orthogonal(axes, image: sitk.Image, modality: str = "CT", labelmap: sitk.Image | None = None) -> None:
    """Draw axial, coronal and sagittal slices through the tumour (or the centre) onto three matplotlib axes."""
    volume, (sx, sy, sz), order = _lps_view(image)  # views, and only three slices made float: big scans
    labels = _lps_view(labelmap)[0] if labelmap is not None else None
    k, j, i = _centre(volume.shape, labelmap, order)
    low, high = intensity_window(image, modality)
    views = [
        ("Axial", volume[k], None if labels is None else labels[k], sy / sx, ("R", "L", "A", "P"), "upper"),
        ("Coronal", volume[:, j, :], None if labels is None else labels[:, j, :], sz / sx, ("R", "L", "S", "I"), "lower"),
        ("Sagittal", volume[:, :, i], None if labels is None else labels[:, :, i], sz / sy, ("A", "P", "S", "I"), "lower"),
    ]
    for axis, (name, slab, label_slab, aspect, (left, right, top, bottom), origin) in zip(axes, views):
        axis.imshow(slab.astype(np.float32), cmap="gray", vmin=low, vmax=high, aspect=aspect, origin=origin, interpolation="bilinear")
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

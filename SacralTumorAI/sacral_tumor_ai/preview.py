"""PNG previews a person can look at: three orthogonal slices, optionally with a labelmap overlaid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.io.atomic import atomic_output
from sacral_tumor_ai.io.scan import Scan
from sacral_tumor_ai.labels import LABELS, TUMOR, Label

CT_WINDOW = (-250.0, 1250.0)  # bone and soft tissue of the pelvis in one view


def _lps_order(direction: tuple[float, ...]) -> list[tuple[int, bool]]:
    """Per view axis (S, P, L: the view's z, y, x), the image array axis closest to it and whether it runs
    the other way, so that the view is what ``sitk.DICOMOrient(image, "LPS")`` would give (axial slices then
    show the patient's right on the left)."""
    matrix = np.asarray(direction, float).reshape(3, 3)
    order = []
    for world in (2, 1, 0):
        axis_ijk = int(np.argmax(np.abs(matrix[world])))
        order.append((2 - axis_ijk, bool(matrix[world, axis_ijk] < 0)))
    return order


def _view_spacing(spacing: tuple[float, ...], order: list[tuple[int, bool]]) -> tuple[float, float, float]:
    """The view's x-y-z spacing (see :func:`_lps_order`) from the image's."""
    return tuple(float(spacing[2 - axis]) for axis, _ in reversed(order))


def _view_plane(plane_of: Callable[[int, int], np.ndarray], shape: tuple[int, ...], order: list[tuple[int, bool]], view_axis: int, view_index: int) -> np.ndarray:
    """The plane of the LPS view (see :func:`_lps_order`) at ``view_index`` along ``view_axis``, from
    ``plane_of(array axis, index)`` of an array of ``shape``: only that plane is ever read."""
    axis, flipped = order[view_axis]
    plane = plane_of(axis, shape[axis] - 1 - view_index if flipped else view_index)
    others = [w for w in range(3) if w != view_axis]
    remaining = [a for a in range(3) if a != axis]  # the plane's axes, in array order
    plane = np.transpose(plane, [remaining.index(order[w][0]) for w in others])
    return plane[tuple(slice(None, None, -1) if order[w][1] else slice(None) for w in others)]


def intensity_window(image: sitk.Image | Scan, modality: str) -> tuple[float, float]:
    """A display window: a fixed pelvic window for CT, 1st-99th percentile for other images."""
    if modality == "CT":
        return CT_WINDOW
    values = sitk.GetArrayViewFromImage(Scan.of(image).image).ravel()
    low, high = np.percentile(values[:: max(1, values.size // 1_000_000)], [1, 99])
    return float(low), float(max(high, low + 1e-6))


def _centre(shape: tuple[int, ...], labelmap: sitk.Image | None, order: list[tuple[int, bool]], focus: sitk.Image | None = None) -> tuple[int, int, int]:
    """View index (z, y, x, see :func:`_lps_order`) of ``focus``'s centroid (a mask, value 1) if given, else of
    the tumour's, else of all labels', else of the volume's centre. ITK's label statistics find it without a
    boolean copy of a big labelmap."""
    source = focus if focus is not None else labelmap
    if source is not None:
        statistics = sitk.LabelShapeStatisticsImageFilter()
        statistics.Execute(source)
        present = list(statistics.GetLabels())
        chosen = [1] if focus is not None and 1 in present else [TUMOR.value] if TUMOR.value in present else present
        if chosen:
            weights = [statistics.GetNumberOfPixels(value) for value in chosen]
            centroid = np.average([statistics.GetCentroid(value) for value in chosen], axis=0, weights=weights)
            index_zyx = source.TransformPhysicalPointToIndex(tuple(float(v) for v in centroid))[::-1]
            view_index = [index_zyx[axis] if not flipped else source.GetSize()[2 - axis] - 1 - index_zyx[axis] for axis, flipped in order]
            return tuple(int(np.clip(v, 0, n - 1)) for v, n in zip(view_index, shape))
    return tuple(s // 2 for s in shape)


def _overlay(slab: np.ndarray, labels: Sequence[Label]) -> np.ndarray:
    rgba = np.zeros(slab.shape + (4,))
    for label in labels:
        mask = slab == label.value
        rgba[mask, :3] = label.color
        rgba[mask, 3] = 0.45
    return rgba


def draw_orthogonal(axes, image: sitk.Image | Scan, modality: str = "CT", labelmap: sitk.Image | None = None,
                    focus: sitk.Image | None = None) -> None:
    """Draw axial, coronal and sagittal slices through ``focus`` (a mask on the image's grid), else the tumour,
    else the centre, onto three matplotlib axes. Only those three planes of the scan are read (and made
    float): a big scan may be on disk."""
    scan = Scan.of(image)
    order = _lps_order(scan.geometry.direction)
    shape = tuple(reversed(scan.geometry.size))
    sx, sy, sz = _view_spacing(scan.geometry.spacing, order)
    centre = _centre(tuple(shape[axis] for axis, _ in order), labelmap, order, focus)
    labels = sitk.GetArrayViewFromImage(labelmap) if labelmap is not None else None

    def planes(view_axis: int) -> tuple[np.ndarray, np.ndarray | None]:
        slab = _view_plane(scan.plane, shape, order, view_axis, centre[view_axis])
        label_slab = None if labels is None else _view_plane(lambda a, i: np.take(labels, i, axis=a), shape, order, view_axis, centre[view_axis])
        return slab, label_slab

    low, high = intensity_window(scan, modality)
    views = [
        ("Axial", *planes(0), sy / sx, ("R", "L", "A", "P"), "upper"),
        ("Coronal", *planes(1), sz / sx, ("R", "L", "S", "I"), "lower"),
        ("Sagittal", *planes(2), sz / sy, ("A", "P", "S", "I"), "lower"),
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
    image: sitk.Image | Scan,
    path: str | Path,
    modality: str = "CT",
    labelmap: sitk.Image | None = None,
    title: str = "",
    focus: sitk.Image | None = None,
) -> Path:
    """Write axial, coronal and sagittal slices through ``focus``, else the tumour, else the centre, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(12, 4.4), facecolor="black")
    draw_orthogonal(axes, image, modality, labelmap, focus)
    if title:
        figure.suptitle(title, color="white", fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)

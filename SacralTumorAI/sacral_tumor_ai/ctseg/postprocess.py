"""Seed 1's post-processing: one connected tumour and one of each bone, holes filled.

A bone is one piece *with its tumour*: a tumour that destroys the acetabulum can cut a hip bone in two, and
keeping only the bone's largest piece would erase the other (a generated Ewing sarcoma lost a third of its hip
bone this way). So, on CT, a bone keeps its largest piece and every piece joined to it through the kept tumour.
The MRI pipeline keeps the largest piece only: on a scan without a pelvis its stray tumour calls joined false
bone pieces to the sacrum and defeated the "no pelvis" check (and it is not measured on MRI).

Before that, on CT, tumour pieces far from every hip bone and the sacrum are dropped: the tumours this product
is for grow from those bones, and a real CT shows organs the generated training data never did (on the
lesion-free real CT the bundled model called 4.3 mL in the abdomen tumour, 113 mm from the nearest bone, and
the largest-piece rule kept it).

And first, where the model's metadata sets a calibrated level, tumour pieces whose tumour probability never
reaches it are dropped: on the real CT v0.11.1's false pieces (the bladder, specks) peak at 0.68-0.86
while every true tumour it drew peaks at 1.000 (``calibrate-confidence`` chooses the level on
validation cases; docs/ct-segmentation.md).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.labels import TUMOR

CONNECTIVITY = np.ones((3, 3, 3), bool)  # 26-connected
TUMOUR_MAX_GAP_MM = 10.0  # a tumour piece with no voxel this close to a hip bone or the sacrum is dropped


def largest_component(mask: np.ndarray, through: np.ndarray | None = None) -> np.ndarray:
    """The largest 26-connected component of a boolean mask (empty stays empty); with ``through``, the
    components joined to it through ``through``'s voxels are kept with it ("largest" counts ``mask``'s
    voxels only)."""
    joined = mask if through is None else mask | through
    components, count = ndimage.label(joined, structure=CONNECTIVITY)
    if count <= 1:
        return mask.astype(bool)
    sizes = np.bincount(components[mask], minlength=count + 1)
    sizes[0] = 0
    return mask & (components == int(np.argmax(sizes)))


def postprocess_labels(labels: np.ndarray, values: Iterable[int], bones_through_tumour: bool = False) -> np.ndarray:
    """Keep the largest component of each label (of a bone, with ``bones_through_tumour``: with the pieces
    its tumour joins to it) and fill its holes, never overwriting another label."""
    values = [value for value in values if value != 0]
    result = np.zeros_like(labels)
    tumour = largest_component(labels == TUMOR.value) if TUMOR.value in values else None
    bridge = tumour if bones_through_tumour else None
    for value in values:
        kept = tumour if value == TUMOR.value else largest_component(labels == value, bridge)
        result[kept] = value
    for value in values:
        filled = ndimage.binary_fill_holes(result == value)
        result[filled & (result == 0)] = value
    return result


def drop_tumour_far_from_pelvis(
    labels: np.ndarray, bones: Iterable[int], spacing_zyx: tuple[float, float, float], max_gap_mm: float = TUMOUR_MAX_GAP_MM,
) -> tuple[np.ndarray, list[float]]:
    """``labels`` (z-y-x) without the tumour pieces that have no voxel within ``max_gap_mm`` of a voxel of one of
    the ``bones`` values (the model's hip bones and sacrum), and the volumes (mL) of the pieces dropped, largest
    first. Without any bone voxel nothing is dropped: the anatomy check reports a missing pelvis."""
    tumour = labels == TUMOR.value
    bone = np.isin(labels, list(bones))
    if not tumour.any() or not bone.any():
        return labels, []
    # Distances are needed only around the tumour: a bone outside its box, widened by the gap, is too far.
    margin = [int(np.ceil(max_gap_mm / s)) + 1 for s in spacing_zyx]
    found = np.nonzero(tumour)
    box = tuple(slice(max(int(i.min()) - m, 0), int(i.max()) + m + 1) for i, m in zip(found, margin))
    pieces, count = ndimage.label(tumour[box], structure=CONNECTIVITY)
    far = np.ones(count + 1, bool)
    far[0] = False
    if bone[box].any():
        far[np.unique(pieces[ndimage.distance_transform_edt(~bone[box], sampling=spacing_zyx) <= max_gap_mm])] = False
    if not far.any():
        return labels, []
    voxel_ml = float(np.prod(spacing_zyx)) / 1000.0
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)
    result = labels.copy()
    result[box][far[pieces]] = 0
    return result, sorted((float(sizes[i]) * voxel_ml for i in np.nonzero(far)[0]), reverse=True)


def tumour_pieces(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """The tumour's 26-connected pieces (``ndimage.label``'s numbering, 0 outside) and their count."""
    return ndimage.label(labels == TUMOR.value, structure=CONNECTIVITY)


def piece_maxima(pieces: np.ndarray, count: int, probability: np.ndarray) -> np.ndarray:
    """The highest ``probability`` within each piece (index 0 unused, 0.0)."""
    maxima = np.zeros(count + 1, np.float32)
    if count:
        maxima[1:] = ndimage.maximum(probability, pieces, index=np.arange(1, count + 1))
    return maxima


def drop_unsure_tumour(
    labels: np.ndarray, tumour_probability: np.ndarray, level: float, voxel_ml: float,
) -> tuple[np.ndarray, list[tuple[float, float]], float]:
    """``labels`` (z-y-x) without the tumour pieces whose ``tumour_probability`` stays below ``level`` in every
    voxel; (volume in mL, highest probability) of each piece dropped, largest first; and the volume (mL) of the
    largest piece kept (0 without one), which tells the drops that changed what the largest-piece rule keeps.
    Level 0 drops none (and measures nothing: the kept volume is then 0)."""
    if level <= 0.0:
        return labels, [], 0.0
    pieces, count = tumour_pieces(labels)
    maxima = piece_maxima(pieces, count, tumour_probability)
    unsure = maxima < level
    unsure[0] = False
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)
    largest_kept = float(np.where(unsure, 0, sizes)[1:].max(initial=0)) * voxel_ml
    if not unsure.any():
        return labels, [], largest_kept
    result = labels.copy()
    result[unsure[pieces]] = 0
    dropped = [(float(sizes[i]) * voxel_ml, float(maxima[i])) for i in np.nonzero(unsure)[0]]
    return result, sorted(dropped, reverse=True), largest_kept

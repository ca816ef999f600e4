"""Model-grid labels back onto the input's exact grid, with smooth boundaries, in slabs.

Each label's mask is interpolated linearly and a voxel takes the label whose mask is highest there if that is
at least 0.5: smoother than nearest neighbour. The work is done slab by slab and only inside each label's
bounding box, so a 1024 x 1024 x 900 scan needs neither a float copy of itself nor minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.preprocess import Region

SLAB_VOXELS = 32 * 1024 * 1024  # voxels of the input grid handled at once (about 128 MB of float32)


def _box_in_input(labels: sitk.Image, value: int, image: sitk.Image, region: Region) -> tuple[np.ndarray, np.ndarray] | None:
    """Index box (start, stop; x-y-z) in ``image`` that holds every voxel ``value`` can reach, or None."""
    voxels = np.argwhere(sitk.GetArrayViewFromImage(labels) == value)
    if voxels.size == 0:
        return None
    low, high = voxels.min(axis=0)[::-1] - 1.0, voxels.max(axis=0)[::-1] + 1.0  # x-y-z, one voxel margin
    corners = [
        image.TransformPhysicalPointToContinuousIndex(
            labels.TransformContinuousIndexToPhysicalPoint([float(high[a] if (c >> a) & 1 else low[a]) for a in range(3)])
        )
        for c in range(8)
    ]
    start = np.maximum(np.floor(np.min(corners, axis=0)).astype(int), region.index)
    stop = np.minimum(np.ceil(np.max(corners, axis=0)).astype(int) + 1, np.add(region.index, region.size))
    return (start, stop) if np.all(stop > start) else None


def _reference(image: sitk.Image, start: np.ndarray, stop: np.ndarray) -> sitk.Image:
    grid = sitk.Image([int(v) for v in stop - start], sitk.sitkUInt8)
    grid.SetSpacing(image.GetSpacing())
    grid.SetDirection(image.GetDirection())
    grid.SetOrigin(image.TransformIndexToPhysicalPoint([int(v) for v in start]))
    return grid


def labels_onto_region(
    labels: sitk.Image, image: sitk.Image, region: Region, values: Iterable[int], refine: Callable[[np.ndarray], None] | None = None,
) -> sitk.Image:
    """Labels on the model grid -> a uint8 labelmap on ``image``'s full grid (zero outside ``region``);
    ``refine``, if given, changes the labels (z-y-x array) in place before they become an image, so that a big
    scan's labelmap is never copied for it."""
    result = np.zeros(tuple(reversed(image.GetSize())), np.uint8)
    boxes = {v: _box_in_input(labels, v, image, region) for v in values if v != 0}
    boxes = {v: box for v, box in boxes.items() if box is not None}
    masks = {v: sitk.Cast(labels == v, sitk.sitkFloat32) for v in boxes}
    if boxes:
        z_start = min(box[0][2] for box in boxes.values())
        z_stop = max(box[1][2] for box in boxes.values())
        slab = max(1, SLAB_VOXELS // (image.GetSize()[0] * image.GetSize()[1]))
        for z0 in range(z_start, z_stop, slab):
            z1 = min(z0 + slab, z_stop)
            _fill_slab(result, masks, boxes, image, z0, z1)
    if refine is not None:
        refine(result)
    labelmap = sitk.GetImageFromArray(result)
    labelmap.CopyInformation(image)
    return labelmap


def _fill_slab(result: np.ndarray, masks: dict, boxes: dict, image: sitk.Image, z0: int, z1: int) -> None:
    """Labels for input slices z0..z1; ``best`` holds the highest mask value seen per voxel of the slab."""
    best = np.zeros((z1 - z0, *result.shape[1:]), np.float32)
    for value, (start, stop) in boxes.items():
        s, e = start.copy(), stop.copy()
        s[2], e[2] = max(s[2], z0), min(e[2], z1)
        if e[2] <= s[2]:
            continue
        interpolated = sitk.GetArrayFromImage(
            sitk.Resample(masks[value], _reference(image, s, e), sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        )
        rows, columns = slice(s[1], e[1]), slice(s[0], e[0])
        local = best[s[2] - z0 : e[2] - z0, rows, columns]
        target = result[s[2] : e[2], rows, columns]
        wins = (interpolated >= 0.5) & (interpolated > local)
        target[wins] = value
        np.maximum(local, interpolated, out=local)

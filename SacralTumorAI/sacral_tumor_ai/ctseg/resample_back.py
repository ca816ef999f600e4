"""Model-grid labels back onto the input's exact grid, with smooth boundaries, in slabs.

Each label's mask is interpolated linearly and a voxel takes the label whose mask is highest there if that is
at least 0.5: smoother than nearest neighbour. The work is done slab by slab and only inside each label's
bounding box, so a 1024 x 1024 x 900 scan needs neither a float copy of itself nor minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.preprocess import Region
from sacral_tumor_ai.geometry import Geometry, index_range_in

SLAB_VOXELS = 16 * 1024 * 1024  # voxels of the input grid handled at once (64 MB of float32 per array)


def _box_in_input(labels: sitk.Image, value: int, image: sitk.Image, region: Region) -> tuple[np.ndarray, np.ndarray] | None:
    """Index box (start, stop; x-y-z) in ``image`` that holds every voxel ``value`` can reach, or None."""
    voxels = np.argwhere(sitk.GetArrayViewFromImage(labels) == value)
    if voxels.size == 0:
        return None
    low, high = voxels.min(axis=0)[::-1] - 1.0, voxels.max(axis=0)[::-1] + 1.0  # x-y-z, one voxel margin
    first, last = index_range_in(image, labels, low, high)
    start = np.maximum(np.floor(first).astype(int), region.index)
    stop = np.minimum(np.ceil(last).astype(int) + 1, np.add(region.index, region.size))
    return (start, stop) if np.all(stop > start) else None


def _reference(image: sitk.Image, start: np.ndarray, stop: np.ndarray) -> sitk.Image:
    grid = sitk.Image([int(v) for v in stop - start], sitk.sitkUInt8)
    grid.SetSpacing(image.GetSpacing())
    grid.SetDirection(image.GetDirection())
    grid.SetOrigin(image.TransformIndexToPhysicalPoint([int(v) for v in start]))
    return grid


@dataclass(frozen=True)
class SlabRefinement:
    """A change made to the resampled labels slab by slab, before they become the labelmap: ``apply(labels,
    first)`` changes ``labels`` (z-y-x, input slices ``first`` onwards) in place; it reads ``halo`` slices
    beyond the ones it must get right, which each slab therefore carries."""

    apply: Callable[[np.ndarray, int], None]
    halo: int = 0


def labels_onto_region(
    labels: sitk.Image, geometry: Geometry, region: Region, values: Iterable[int], refine: SlabRefinement | None = None,
) -> sitk.Image:
    """Labels on the model grid -> a uint8 labelmap of the input's ``geometry`` (zero outside ``region``),
    ``refine``d if given. Slab by slab, each pasted into the labelmap in place: a huge scan's labelmap exists
    once, never also as an array, and the scan's voxels are not needed."""
    labelmap = sitk.Image(geometry.size, sitk.sitkUInt8)
    geometry.apply_to(labelmap)
    boxes = {v: _box_in_input(labels, v, labelmap, region) for v in values if v != 0}
    boxes = {v: box for v, box in boxes.items() if box is not None}
    if not boxes:
        return labelmap
    masks = {v: sitk.Cast(labels == v, sitk.sitkFloat32) for v in boxes}
    depth = labelmap.GetSize()[2]
    halo = refine.halo if refine is not None else 0
    z_start = max(0, min(box[0][2] for box in boxes.values()) - halo)  # a refinement may reach past the labels
    z_stop = min(depth, max(box[1][2] for box in boxes.values()) + halo)
    step = max(1, SLAB_VOXELS // (labelmap.GetSize()[0] * labelmap.GetSize()[1]))
    for z0 in range(z_start, z_stop, step):
        z1 = min(z0 + step, z_stop)
        low, high = max(0, z0 - halo), min(depth, z1 + halo)
        slab = _slab_labels(masks, boxes, labelmap, low, high)
        if refine is not None:
            refine.apply(slab, low)
        labelmap[:, :, z0:z1] = sitk.GetImageFromArray(slab[z0 - low : z1 - low])  # PasteImageFilter, in place
    return labelmap


def _slab_labels(masks: dict, boxes: dict, image: sitk.Image, z0: int, z1: int) -> np.ndarray:
    """Labels (z-y-x, uint8) of input slices z0..z1; ``best`` holds the highest mask value seen per voxel."""
    size = image.GetSize()
    result = np.zeros((z1 - z0, size[1], size[0]), np.uint8)
    best = np.zeros(result.shape, np.float32)
    for value, (start, stop) in boxes.items():
        s, e = start.copy(), stop.copy()
        s[2], e[2] = max(s[2], z0), min(e[2], z1)
        if e[2] <= s[2]:
            continue
        interpolated = sitk.GetArrayFromImage(
            sitk.Resample(masks[value], _reference(image, s, e), sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        )
        local = (slice(s[2] - z0, e[2] - z0), slice(s[1], e[1]), slice(s[0], e[0]))
        wins = (interpolated >= 0.5) & (interpolated > best[local])
        result[local][wins] = value
        np.maximum(best[local], interpolated, out=best[local])
    return result

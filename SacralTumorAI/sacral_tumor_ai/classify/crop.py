"""The classifier's image input: a box around the tumour, with a margin, resampled to a fixed size.

The box is aligned with the hip frame when there is one (so the crop does not depend on the patient's
pose), else with the scan's LPS axes. Channels: the CT in an intensity window scaled to [0, 1], and the
tumour mask (which voxels the classification is about). Voxels outside the scan are air; a tumour touching
the scan's edge is flagged, because part of it may be missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.geometry import index_range_in, label_boxes
from sacral_tumor_ai.hipframe.points import cut_faces, index_to_world
from sacral_tumor_ai.io.scan import Scan
from sacral_tumor_ai.labels import TUMOR

AIR_HU = -1024.0


class NoTumourError(SacralTumorAIError):
    """The segmentation holds no tumour, so there is nothing to crop or classify."""


@dataclass(frozen=True)
class CropSpec:
    size: tuple[int, int, int] = (64, 64, 32)  # x, y, z voxels (seed 1: 256 x 256 x 64)
    margin_mm: float = 10.0
    window: tuple[float, float] = (-250.0, 1250.0)

    def to_metadata(self) -> dict:
        return {"size": list(self.size), "margin_mm": self.margin_mm, "window": list(self.window)}

    @classmethod
    def from_metadata(cls, data: dict) -> CropSpec:
        return cls(tuple(data["size"]), float(data["margin_mm"]), tuple(data["window"]))


@dataclass(frozen=True)
class TumourCrop:
    array: np.ndarray  # (2, z, y, x) float32
    warnings: tuple[str, ...]


def _tumour_box(labelmap: sitk.Image) -> tuple[slice, ...] | None:
    """The tumour's bounding box as array slices (z, y, x); None if absent."""
    box = label_boxes(labelmap).get(TUMOR.value)
    if box is None:
        return None
    start, size = box
    return tuple(slice(start[a], start[a] + size[a]) for a in (2, 1, 0))


def _tumour_extent(labelmap: sitk.Image, mask: np.ndarray, box: tuple[slice, ...], axes: np.ndarray, slab: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest coordinates along ``axes`` of the tumour voxels and their diagonal neighbours
    (index +- 1 on every axis), found slab by slab: a large tumour in a huge scan has millions of voxels."""
    step = index_to_world(labelmap, np.ones((1, 3))) - index_to_world(labelmap, np.zeros((1, 3)))
    reach = np.abs(step @ axes.T)[0]  # a neighbour's offset along each axis, either way
    low, high = np.full(3, np.inf), np.full(3, -np.inf)
    for first in range(box[0].start, box[0].stop, slab):
        part = (slice(first, min(first + slab, box[0].stop)), box[1], box[2])
        index = np.argwhere(mask[part] == TUMOR.value) + [p.start for p in part]
        if len(index):
            local = index_to_world(labelmap, index[:, ::-1].astype(float)) @ axes.T
            low, high = np.minimum(low, local.min(axis=0)), np.maximum(high, local.max(axis=0))
    return low - reach, high + reach


def _region_under(image: sitk.Image | Scan, reference: sitk.Image, margin: int = 2) -> sitk.Image:
    """The part of ``image`` that resampling onto ``reference`` reads (its corners' box, ``margin`` voxels
    more for interpolation), clipped to the image: the same result as resampling the whole image. Only that
    part is read (a big scan may be on disk)."""
    scan = Scan.of(image)
    first, last = index_range_in(scan.transform_reference(), reference, [-1.0] * 3, reference.GetSize())
    start = np.maximum(np.floor(first).astype(int) - margin, 0)
    stop = np.minimum(np.ceil(last).astype(int) + margin + 1, scan.geometry.size)
    if np.any(stop <= start):  # the box lies outside the scan: one voxel keeps the geometry, air all round
        start, stop = np.zeros(3, int), np.ones(3, int)
    return scan.region(start, stop - start)


def tumour_crop(ct: sitk.Image | Scan, labelmap: sitk.Image, spec: CropSpec, axes: np.ndarray | None = None) -> TumourCrop:
    """The crop of ``ct`` around the labelmap's tumour; ``axes`` (rows: unit vectors in world LPS) orient
    the box (the hip frame's), default the LPS axes."""
    mask = sitk.GetArrayViewFromImage(labelmap)
    box = _tumour_box(labelmap)
    if box is None:
        raise NoTumourError("There is no tumour in the segmentation: draw or segment the tumour before classifying.")
    axes = np.eye(3) if axes is None else np.asarray(axes, float)
    low, high = _tumour_extent(labelmap, mask, box, axes)
    low, high = low - spec.margin_mm, high + spec.margin_mm
    size = np.array(spec.size)
    spacing = (high - low) / size
    reference = sitk.Image([int(s) for s in size], sitk.sitkFloat32)
    reference.SetSpacing(spacing.tolist())
    reference.SetDirection(axes.T.flatten().tolist())
    reference.SetOrigin((axes.T @ (low + spacing / 2)).tolist())
    # Only the part of the scan the box reaches is cast and resampled: a whole 1024 x 1024 x 900 scan in
    # float32 would take 3.8 GB.
    ct_part, labels_part = (_region_under(volume, reference) for volume in (ct, labelmap))
    image = sitk.Resample(sitk.Cast(ct_part, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, AIR_HU)
    tumour = sitk.Resample(sitk.Cast(labels_part == TUMOR.value, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, 0.0)
    low_hu, high_hu = spec.window
    intensity = np.clip((sitk.GetArrayFromImage(image) - low_hu) / (high_hu - low_hu), 0.0, 1.0)
    warnings = []
    faces = cut_faces(labelmap, mask, TUMOR.value)
    if faces:
        warnings.append(f"The tumour touches the {' and '.join(faces)} edge of the scan: part of it may be outside the image (the crop is padded with air), so the classification may be less reliable.")
    return TumourCrop(np.stack([intensity, sitk.GetArrayFromImage(tumour)]).astype(np.float32), tuple(warnings))

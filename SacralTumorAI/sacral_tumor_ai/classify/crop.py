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
from sacral_tumor_ai.hipframe.points import cut_faces, index_to_world
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


def tumour_crop(ct: sitk.Image, labelmap: sitk.Image, spec: CropSpec, axes: np.ndarray | None = None) -> TumourCrop:
    """The crop of ``ct`` around the labelmap's tumour; ``axes`` (rows: unit vectors in world LPS) orient
    the box (the hip frame's), default the LPS axes."""
    mask = sitk.GetArrayViewFromImage(labelmap)
    index = np.argwhere(mask == TUMOR.value)
    if not len(index):
        raise NoTumourError("There is no tumour in the segmentation: draw or segment the tumour before classifying.")
    axes = np.eye(3) if axes is None else np.asarray(axes, float)
    corners = index_to_world(labelmap, np.concatenate([index, index + 1, index - 1])[:, ::-1].astype(float))
    local = corners @ axes.T
    low, high = local.min(axis=0) - spec.margin_mm, local.max(axis=0) + spec.margin_mm
    size = np.array(spec.size)
    spacing = (high - low) / size
    reference = sitk.Image([int(s) for s in size], sitk.sitkFloat32)
    reference.SetSpacing(spacing.tolist())
    reference.SetDirection(axes.T.flatten().tolist())
    reference.SetOrigin((axes.T @ (low + spacing / 2)).tolist())
    image = sitk.Resample(sitk.Cast(ct, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, AIR_HU)
    tumour = sitk.Resample(sitk.Cast(labelmap == TUMOR.value, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, 0.0)
    low_hu, high_hu = spec.window
    intensity = np.clip((sitk.GetArrayFromImage(image) - low_hu) / (high_hu - low_hu), 0.0, 1.0)
    warnings = []
    faces = cut_faces(labelmap, mask, TUMOR.value)
    if faces:
        warnings.append(f"The tumour touches the {' and '.join(faces)} edge of the scan: part of it may be outside the image (the crop is padded with air), so the classification may be less reliable.")
    return TumourCrop(np.stack([intensity, sitk.GetArrayFromImage(tumour)]).astype(np.float32), tuple(warnings))

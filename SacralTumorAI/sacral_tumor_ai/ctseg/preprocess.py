"""From a CT in any orientation and spacing to the model's input: body box, canonical grid, HU windows.

The model grid is axis-aligned in LPS at the model's spacing and covers the body's bounding box, so feet-first,
prone, mirrored or oblique scans all reach the network the same way up. The input is never cropped or copied
at full resolution: the grid is resampled straight from it, which keeps huge scans within memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import AnatomyNotFoundError

AIR_HU = -1024.0
# Above any bone on the model grid (dense cortex reads up to about 2000 HU); metal saturates the scale (3071).
METAL_HU = 2500.0
_BODY_SEARCH_SPACING_MM = 4.0


@dataclass(frozen=True)
class Region:
    """A box of voxels in the input image (index and size along its own axes)."""

    index: tuple[int, int, int]
    size: tuple[int, int, int]

    def reference(self, image: sitk.Image, pixel_type: int = sitk.sitkUInt8) -> sitk.Image:
        """An empty image with the input's spacing and direction covering exactly this box."""
        grid = sitk.Image(list(self.size), pixel_type)
        grid.SetSpacing(image.GetSpacing())
        grid.SetDirection(image.GetDirection())
        grid.SetOrigin(image.TransformIndexToPhysicalPoint([int(v) for v in self.index]))
        return grid


@dataclass(frozen=True)
class PreparedCT:
    """The network's input and where it came from."""

    channels: np.ndarray  # (C, z, y, x) float32 in [0, 1]
    grid: sitk.Image  # empty image carrying the model grid's geometry
    body: Region  # the body's box in the input image
    metal_ml: float = 0.0  # volume at or above METAL_HU on the model grid (a prosthesis, nails, clips)


def shrink_factors(image: sitk.Image, target_mm: float) -> list[int]:
    return [max(1, int(target_mm // spacing)) for spacing in image.GetSpacing()]


def body_region(image: sitk.Image, threshold_hu: float, margin_mm: float) -> Region:
    """Bounding box of the largest connected region above ``threshold_hu`` (the patient), plus a margin."""
    factors = shrink_factors(image, _BODY_SEARCH_SPACING_MM)
    small = sitk.BinShrink(image, factors)
    body = sitk.RelabelComponent(sitk.ConnectedComponent(small > threshold_hu), sortByObjectSize=True)
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(body)
    if 1 not in statistics.GetLabels():
        raise AnatomyNotFoundError(f"no body found: no voxels above {threshold_hu:g} HU")
    box = statistics.GetBoundingBox(1)  # index..., size... in the shrunk image
    margins = [int(np.ceil(margin_mm / s)) for s in image.GetSpacing()]
    start = [max(0, box[a] * factors[a] - margins[a]) for a in range(3)]
    stop = [min(image.GetSize()[a], (box[a] + box[a + 3]) * factors[a] + margins[a]) for a in range(3)]
    return Region(tuple(start), tuple(b - a for a, b in zip(start, stop)))


def model_grid(image: sitk.Image, region: Region, spacing: tuple[float, float, float]) -> sitk.Image:
    """An axis-aligned LPS grid at ``spacing`` over the physical bounding box of ``region``."""
    corners = np.array(
        [
            image.TransformContinuousIndexToPhysicalPoint(
                [region.index[a] - 0.5 + (region.size[a] if (corner >> a) & 1 else 0) for a in range(3)]
            )
            for corner in range(8)
        ]
    )
    low, high = corners.min(axis=0), corners.max(axis=0)
    size = [max(1, int(np.ceil((high[a] - low[a]) / spacing[a]))) for a in range(3)]
    grid = sitk.Image(size, sitk.sitkUInt8)
    grid.SetSpacing(spacing)
    grid.SetOrigin(tuple(low + np.asarray(spacing) / 2.0))
    return grid


def to_grid(image: sitk.Image, grid: sitk.Image, default_hu: float = AIR_HU) -> np.ndarray:
    """HU on ``grid`` (float32, z-y-x), box-averaged first where the grid is much coarser (anti-aliasing)."""
    factors = shrink_factors(image, min(grid.GetSpacing()) / 1.0)
    source = sitk.BinShrink(image, factors) if max(factors) > 1 else image
    resampled = sitk.Resample(source, grid, sitk.Transform(), sitk.sitkLinear, default_hu, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampled)


def window_channels(hounsfield: np.ndarray, windows: tuple[tuple[float, float], ...]) -> np.ndarray:
    """One channel per HU window, clipped and scaled to [0, 1]."""
    return np.stack(
        [np.clip((hounsfield - low) / (high - low), 0.0, 1.0) for low, high in windows]
    ).astype(np.float32)


def prepare_ct(image: sitk.Image, spec: CTModelSpec) -> PreparedCT:
    """The model input for ``image`` (any orientation, spacing, size)."""
    region = body_region(image, spec.body_threshold_hu, spec.body_margin_mm)
    grid = model_grid(image, region, spec.spacing)
    hounsfield = to_grid(image, grid)
    metal_ml = float(np.count_nonzero(hounsfield >= METAL_HU)) * float(np.prod(spec.spacing)) / 1000.0
    return PreparedCT(window_channels(hounsfield, spec.windows), grid, region, metal_ml)


def labels_to_grid(labelmap: sitk.Image, grid: sitk.Image) -> np.ndarray:
    """A labelmap on the model grid (nearest neighbour), for training targets."""
    resampled = sitk.Resample(labelmap, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(resampled)

"""From an MR sequence in any orientation and spacing to the 2.5D network's input.

The model grid is axis-aligned in LPS (so any acquisition reaches the network the same way up), resampled
in-plane to the model's pixel size; axial slices keep the scan's own thickness, because the 2.5D context is
"the slices above and below" as acquired. Intensities are normalised per sequence (MR signal has no unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.preprocess import Region, model_grid, to_grid
from sacral_tumor_ai.mriseg.spec import MriModelSpec

CLIP = (-3.0, 6.0)


@dataclass(frozen=True)
class MriGrid:
    """The model grid for one input image, and what the user should know about how it was chosen."""

    grid: sitk.Image
    region: Region  # the whole input image
    warnings: list[str] = field(default_factory=list)


def head_foot_spacing(image: sitk.Image) -> tuple[float, bool]:
    """(spacing along the image axis closest to head-foot, whether that axis is the slice axis)."""
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    axis = int(np.argmax(np.abs(direction[2])))  # row 2: each image axis's S-I component
    return float(image.GetSpacing()[axis]), axis == 2


def mri_grid(image: sitk.Image, spec: MriModelSpec, name: str = "the image") -> MriGrid:
    """The model grid covering ``image``: ``spec.in_plane_mm`` in-plane, the scan's slice thickness axially
    (raised to ``spec.slice_mm[0]`` when thinner), with warnings for geometry outside the training range."""
    thickness, axial = head_foot_spacing(image)
    warnings = []
    if not axial:
        warnings.append(f"{name} is not an axial acquisition; it is resampled to axial slices, which the model was not trained on")
    if thickness > spec.slice_mm[1]:
        warnings.append(
            f"{name} has {thickness:.1f} mm slices, thicker than the model's training range "
            f"({spec.slice_mm[0]:g}-{spec.slice_mm[1]:g} mm): neighbouring slices are far apart and accuracy is unmeasured"
        )
    slice_mm = max(thickness, spec.slice_mm[0])
    region = Region((0, 0, 0), tuple(image.GetSize()))
    return MriGrid(model_grid(image, region, (spec.in_plane_mm, spec.in_plane_mm, slice_mm)), region, warnings)


def normalise(volume: np.ndarray) -> np.ndarray:
    """Per-sequence z-score over the body (voxels above 10% of the 99th percentile), clipped to ``CLIP``."""
    volume = volume.astype(np.float32, copy=False)
    high = float(np.percentile(volume, 99.0))
    body = volume[volume > 0.1 * high] if high > 0 else volume.ravel()
    if body.size < 100:
        body = volume.ravel()
    mean, std = float(body.mean()), float(body.std())
    return np.clip((volume - mean) / max(std, 1e-6), *CLIP).astype(np.float32)


def sequence_on_grid(image: sitk.Image, grid: sitk.Image) -> np.ndarray:
    """One sequence resampled onto ``grid`` and normalised (float32, z-y-x)."""
    return normalise(to_grid(sitk.Cast(image, sitk.sitkFloat32), grid, 0.0))

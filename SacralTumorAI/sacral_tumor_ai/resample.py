"""Resampling and reorientation that keep track of the input's exact geometry, so results go back onto it.

Models work on a canonical grid (fixed orientation and spacing); users' scans come in any orientation
(feet-first, prone, oblique) and spacing. Reorientation is a lossless permutation/flip of voxels;
resampling interpolates. Both are undone onto the original grid, never assumed away.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.geometry import orientation_code

CANONICAL_ORIENTATION = "LPS"  # identity direction when the scan is axis-aligned


def reorient(image: sitk.Image, code: str = CANONICAL_ORIENTATION) -> sitk.Image:
    """Permute and flip voxel axes so they run along ``code`` (lossless; an oblique scan keeps its obliquity
    relative to the nearest axes)."""
    return sitk.DICOMOrient(image, code)


def undo_reorient(image: sitk.Image, original: sitk.Image) -> sitk.Image:
    """Bring a reoriented image (or a result computed on it) back to ``original``'s voxel order and
    geometry."""
    restored = sitk.DICOMOrient(image, orientation_code(original.GetDirection()))
    restored.CopyInformation(original)  # the permutation is exact; copying removes float round-off
    return restored


def grid_for_spacing(image: sitk.Image, spacing: Sequence[float]) -> sitk.Image:
    """An empty image covering ``image``'s field of view at ``spacing``, same origin and direction."""
    size = [
        max(1, int(round(n * s / t))) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing)
    ]
    grid = sitk.Image(size, image.GetPixelID())
    grid.SetSpacing([float(v) for v in spacing])
    grid.SetDirection(image.GetDirection())
    # Keep the field of view centred: the first voxel centre moves by half the change of voxel size.
    shift = (np.asarray(spacing, float) - np.asarray(image.GetSpacing(), float)) / 2.0
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    grid.SetOrigin(tuple(np.asarray(image.GetOrigin(), float) + direction @ shift))
    return grid


def resample_like(
    image: sitk.Image,
    reference: sitk.Image,
    label: bool = False,
    default_value: float = 0.0,
) -> sitk.Image:
    """``image`` resampled onto ``reference``'s grid: linear for intensities, nearest neighbour for labels."""
    interpolator = sitk.sitkNearestNeighbor if label else sitk.sitkLinear
    output_type = image.GetPixelID() if label else sitk.sitkFloat32
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, default_value, output_type)


def resample_to_spacing(image: sitk.Image, spacing: Sequence[float], label: bool = False, default_value: float = 0.0) -> sitk.Image:
    """``image`` at ``spacing`` (mm) over the same field of view (starting at the same edge), same direction."""
    return resample_like(image, grid_for_spacing(image, spacing), label, default_value)

"""Checks that an image is a usable 3D scalar volume, with errors that name the file and the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import InputImageError
from sacral_tumor_ai.geometry import orthonormality_error

# Direction matrices written by scanners and converters are orthonormal to float32 precision; a larger error
# means a sheared or scaled grid that no resampling step here may silently reinterpret.
ORTHONORMAL_TOLERANCE = 1e-4


def squeeze_trailing_singletons(image: sitk.Image) -> sitk.Image:
    """Turn a 4D image whose extra axes have size 1 (common in NIfTI) into the 3D image it really is."""
    size = list(image.GetSize())
    if image.GetDimension() <= 3 or any(s != 1 for s in size[3:]):
        return image
    return sitk.Extract(image, size[:3] + [0] * (len(size) - 3), [0] * len(size))


def validate_image(image: sitk.Image, path: str | Path) -> None:
    """Raise :class:`InputImageError` unless ``image`` is a finite, non-empty 3D scalar volume on an
    orthonormal grid."""
    if image.GetDimension() != 3:
        shape = " x ".join(str(s) for s in image.GetSize())
        raise InputImageError(
            path, f"has {image.GetDimension()} dimensions ({shape}); a 3D volume is expected"
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputImageError(
            path,
            f"has {image.GetNumberOfComponentsPerPixel()} components per voxel (colour or vector "
            "image); a single-channel volume is expected",
        )
    if min(image.GetSize()) == 0:
        raise InputImageError(path, f"is empty (size {image.GetSize()})")
    if min(image.GetSpacing()) <= 0 or not np.all(np.isfinite(image.GetSpacing())):
        raise InputImageError(path, f"has an invalid voxel spacing {image.GetSpacing()}")
    error = orthonormality_error(image.GetDirection())
    if error > ORTHONORMAL_TOLERANCE:
        raise InputImageError(
            path,
            f"has a non-orthogonal direction matrix (deviation {error:.3g}); sheared grids are not "
            "supported, resample the volume onto an orthogonal grid first",
        )
    if image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        values = sitk.GetArrayViewFromImage(image)
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise InputImageError(
                path, f"contains {bad} of {values.size} voxels that are NaN or infinite"
            )

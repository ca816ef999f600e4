"""Model-grid labels back onto the input's exact grid, with smooth boundaries (per-label linear masks)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.ctseg.preprocess import Region


def labels_onto_region(labels: sitk.Image, image: sitk.Image, region: Region, values: Iterable[int]) -> sitk.Image:
    """Labels (on the model grid) resampled onto ``image``'s full grid; zero outside ``region``.

    Each label's mask is interpolated linearly and a voxel takes the label whose mask is highest there if it
    is at least 0.5: smoother than nearest neighbour, and no label can grow a second component.
    """
    reference = region.reference(image)
    best = np.zeros(tuple(reversed(region.size)), np.float32)
    result = np.zeros(best.shape, np.uint8)
    label_array = sitk.GetArrayViewFromImage(labels)
    for value in values:
        if value == 0 or not (label_array == value).any():
            continue
        mask = sitk.Cast(labels == value, sitk.sitkFloat32)
        interpolated = sitk.GetArrayFromImage(
            sitk.Resample(mask, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        )
        wins = (interpolated >= 0.5) & (interpolated > best)
        result[wins] = value
        np.maximum(best, interpolated, out=best)
    cropped = sitk.GetImageFromArray(result)
    cropped.CopyInformation(reference)
    full = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    full.CopyInformation(image)
    return sitk.Paste(full, cropped, cropped.GetSize(), [0, 0, 0], list(region.index))

"""Coarse MRI tumour labels (seed 2's training regime): only the tumour's largest axial slice and the
``margin`` slices above and below it keep their tumour label; the fine mask is kept for testing."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.labels import TUMOR


def largest_tumour_slice(labels: np.ndarray) -> int | None:
    """Index (z) of the axial slice with the most tumour voxels in a z-y-x array; None without tumour."""
    counts = (labels == TUMOR.value).sum(axis=(1, 2))
    return int(np.argmax(counts)) if counts.any() else None


def coarse_labels(labelmap: sitk.Image, margin: int = 5) -> tuple[sitk.Image, tuple[int, int] | None]:
    """(coarse labelmap, (first, last) labelled slice, inclusive). Tumour outside the slab becomes 0, so
    training code should restrict its tumour loss to the returned slab; bone labels are left whole."""
    labels = sitk.GetArrayFromImage(labelmap)
    centre = largest_tumour_slice(labels)
    if centre is None:
        return labelmap, None
    first, last = max(0, centre - margin), min(labels.shape[0] - 1, centre + margin)
    coarse = labels.copy()
    outside = np.ones(labels.shape[0], bool)
    outside[first : last + 1] = False
    slab = coarse[outside]
    slab[slab == TUMOR.value] = 0
    coarse[outside] = slab
    image = sitk.GetImageFromArray(coarse)
    image.CopyInformation(labelmap)
    return image, (first, last)

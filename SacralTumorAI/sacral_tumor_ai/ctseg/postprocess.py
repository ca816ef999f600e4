"""Seed 1's post-processing: one connected tumour and one of each bone, holes filled."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of a boolean mask (empty stays empty)."""
    components, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count <= 1:
        return mask.astype(bool)
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return components == int(np.argmax(sizes))


def postprocess_labels(labels: np.ndarray, values: Iterable[int]) -> np.ndarray:
    """Keep the largest component of each label and fill its holes, never overwriting another label."""
    result = np.zeros_like(labels)
    for value in values:
        if value == 0:
            continue
        kept = largest_component(labels == value)
        result[kept] = value
    for value in values:
        if value == 0:
            continue
        filled = ndimage.binary_fill_holes(result == value)
        result[filled & (result == 0)] = value
    return result

"""Seed 1's post-processing: one connected tumour and one of each bone, holes filled.

A bone is one piece *with its tumour*: a tumour that destroys the acetabulum can cut a hip bone in two, and
keeping only the bone's largest piece would erase the other (a generated Ewing sarcoma lost a third of its hip
bone this way). So, on CT, a bone keeps its largest piece and every piece joined to it through the kept tumour.
The MRI pipeline keeps the largest piece only: on a scan without a pelvis its stray tumour calls joined false
bone pieces to the sacrum and defeated the "no pelvis" check (and it is not measured on MRI).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.labels import TUMOR

_CONNECTIVITY = np.ones((3, 3, 3), bool)  # 26-connected


def largest_component(mask: np.ndarray, through: np.ndarray | None = None) -> np.ndarray:
    """The largest 26-connected component of a boolean mask (empty stays empty); with ``through``, the
    components joined to it through ``through``'s voxels are kept with it ("largest" counts ``mask``'s
    voxels only)."""
    joined = mask if through is None else mask | through
    components, count = ndimage.label(joined, structure=_CONNECTIVITY)
    if count <= 1:
        return mask.astype(bool)
    sizes = np.bincount(components[mask], minlength=count + 1)
    sizes[0] = 0
    return mask & (components == int(np.argmax(sizes)))


def postprocess_labels(labels: np.ndarray, values: Iterable[int], bones_through_tumour: bool = False) -> np.ndarray:
    """Keep the largest component of each label (of a bone, with ``bones_through_tumour``: with the pieces
    its tumour joins to it) and fill its holes, never overwriting another label."""
    values = [value for value in values if value != 0]
    result = np.zeros_like(labels)
    tumour = largest_component(labels == TUMOR.value) if TUMOR.value in values else None
    bridge = tumour if bones_through_tumour else None
    for value in values:
        kept = tumour if value == TUMOR.value else largest_component(labels == value, bridge)
        result[kept] = value
    for value in values:
        filled = ndimage.binary_fill_holes(result == value)
        result[filled & (result == 0)] = value
    return result

"""Tumour-edge refinement on the model grid: peel the rim of surrounding tissue the network draws around a
tumour whose density differs from it.

Where a soft-tissue tumour meets muscle the network is unsure where it ends, and it draws a rim of the
neighbouring tissue around it: on v0.13.0's seed-16 test split the 2 mm shell just outside a labelled
chordoma (35 HU, in 50 HU muscle) had a mean tumour probability of 0.73 (docs/ct-segmentation.md). The image
often says where the edge is even when the network does not. So, per scan: the tumour's *core* (its
soft-tissue matrix, -50 to 150 HU, where its probability reaches ``sure_probability``) and the soft tissue in a ring around the drawn
tumour (background voxels 2-4 voxels out, 0-120 HU) each get their median HU; where those differ by at least
``min_contrast_hu``, every unsure soft-tissue tumour voxel whose smoothed HU is nearer the ring's than the core's becomes
background. A tumour of the same density as the muscle around it is left as drawn. ``calibrate-tumour-edges``
chooses the contrast on validation cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.ctseg.bone_edges import value_boxes
from sacral_tumor_ai.models.package import ModelPackageError

SOFT_TISSUE_HU = (0.0, 120.0)  # the ring's soft tissue: no fat, no bone
MATRIX_HU = (-50.0, 150.0)  # a tumour's soft-tissue matrix (a necrotic centre included), not its bone or calcification
RING_VOXELS = (1, 4)  # the ring: background from this many voxels beyond the drawn tumour out to that many
SMOOTHING_VOXELS = 1.0  # Gaussian sigma of the HU compared (noise)
MIN_VOXELS = 20  # fewer core or ring voxels than this: no estimate, nothing peeled


@dataclass(frozen=True)
class TumourEdges:
    """Settings of the tumour-edge refinement (package metadata ``inference.tumour_edges``)."""

    min_contrast_hu: float
    sure_probability: float = 0.95

    @classmethod
    def from_metadata(cls, value: dict[str, Any] | None) -> TumourEdges | None:
        if value is None:
            return None
        try:
            edges = cls(float(value["min_contrast_hu"]), float(value.get("sure_probability", 0.95)))
        except (KeyError, TypeError, ValueError, AttributeError):
            edges = None
        if edges is None or edges.min_contrast_hu < 0 or not 0.5 < edges.sure_probability < 1.0:
            raise ModelPackageError(f"tumour_edges: min_contrast_hu must be >= 0 and sure_probability in (0.5, 1), not {value}")
        return edges

    def to_metadata(self) -> dict[str, float]:
        return {"min_contrast_hu": self.min_contrast_hu, "sure_probability": self.sure_probability}


def soft_tissue_channel(windows: tuple[tuple[float, float], ...]) -> int:
    """The first input channel whose HU window holds the soft-tissue range (ModelPackageError if none)."""
    for index, (low, high) in enumerate(windows):
        if low <= SOFT_TISSUE_HU[0] and high >= SOFT_TISSUE_HU[1]:
            return index
    raise ModelPackageError(f"tumour_edges needs an input window covering {SOFT_TISSUE_HU[0]:g}-{SOFT_TISSUE_HU[1]:g} HU; the model's are {list(windows)}")


def soft_tissue_hounsfield(channels: np.ndarray, windows: tuple[tuple[float, float], ...]) -> np.ndarray:
    """HU (float32, z-y-x) back from the :func:`soft_tissue_channel` (its values outside the window are
    clipped, which the refinement never reads)."""
    index = soft_tissue_channel(windows)
    low, high = windows[index]
    return channels[index].astype(np.float32) * np.float32(high - low) + np.float32(low)


def tumour_rim(labels: np.ndarray, probability: np.ndarray, hounsfield: np.ndarray, tumour_value: int, edges: TumourEdges) -> np.ndarray:
    """The unsure tumour voxels (bool, z-y-x) nearer in density to the surrounding soft tissue than to the
    tumour's core; none where the core and the ring differ by less than ``edges.min_contrast_hu``."""
    rim = np.zeros(labels.shape, bool)
    box = value_boxes(labels, (tumour_value,), RING_VOXELS[1] + 2).get(tumour_value)
    if box is None:
        return rim
    tumour = labels[box] == tumour_value
    sure = probability[box] >= edges.sure_probability
    hounsfield = ndimage.gaussian_filter(hounsfield[box].astype(np.float32), SMOOTHING_VOXELS)
    # Calcified or bony matrix would pull the core's median away from the soft tissue the rim is told from,
    # so the core, and the voxels that may be peeled, are the tumour's soft-tissue matrix only.
    matrix = (hounsfield > MATRIX_HU[0]) & (hounsfield < MATRIX_HU[1])
    core = ndimage.binary_erosion(tumour & sure) & matrix
    ring = ndimage.binary_dilation(tumour, iterations=RING_VOXELS[1]) & ~ndimage.binary_dilation(tumour, iterations=RING_VOXELS[0])
    ring &= (labels[box] == 0) & (hounsfield > SOFT_TISSUE_HU[0]) & (hounsfield < SOFT_TISSUE_HU[1])
    if np.count_nonzero(core) < MIN_VOXELS or np.count_nonzero(ring) < MIN_VOXELS:
        return rim
    core_hu, ring_hu = float(np.median(hounsfield[core])), float(np.median(hounsfield[ring]))
    if abs(core_hu - ring_hu) < edges.min_contrast_hu:
        return rim
    rim[box] = tumour & ~sure & matrix & (np.abs(hounsfield - ring_hu) < np.abs(hounsfield - core_hu))
    return rim


def refine_tumour_edges(labels: np.ndarray, probability: np.ndarray, hounsfield: np.ndarray, tumour_value: int, edges: TumourEdges) -> int:
    """Peel the tumour's rim (:func:`tumour_rim`) to background, in place; returns the voxels peeled."""
    rim = tumour_rim(labels, probability, hounsfield, tumour_value, edges)
    labels[rim] = 0
    return int(np.count_nonzero(rim))

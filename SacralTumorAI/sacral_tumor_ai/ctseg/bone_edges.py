"""Bone surfaces refined at the input's resolution, where it is finer than the model's grid.

The model decides on a 2 mm grid; a bone's surface drawn from it is off by up to a grid voxel, and the
bundled model drew hip bones about one input voxel too far out (the blurred halo of the cortex looks like
bone at 2 mm). A bone's edge is where the CT crosses from cortex to soft tissue, which the input shows at its
own resolution, so two HU rules, calibrated on validation cases (``calibrate-edges``), correct it:

- *peel*: a bone voxel on the label's outer shell, next to background, darker than ``shell_below_hu`` becomes
  background (one voxel deep: the cancellous inside, darker than cortex, is never reached);
- *grow*: a background voxel next to the bone at least as bright as ``grow_above_hu`` joins it.

Both act only along the axes where the input is finer than the model grid (a 5 mm slice is never peeled in
z; a scan coarser than the grid everywhere is left as it is), and never touch tumour or another bone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.models.package import ModelPackageError

HU_LIMITS = (-1000.0, 3000.0)  # thresholds outside this range are mistakes, not settings
SLAB_VOXELS = 16 * 1024 * 1024  # voxels of a bone's box refined at once (a few bytes each, several arrays)
# Slices a slab reads beyond its own: the rules look one voxel, and the grow rule's peeled neighbours one
# more, beyond a slice.
HALO_SLICES = 2


@dataclass(frozen=True)
class BoneEdges:
    """The two HU thresholds of the refinement; ``None`` switches that rule off."""

    shell_below_hu: float | None = None
    grow_above_hu: float | None = None

    @classmethod
    def from_metadata(cls, entry: dict[str, Any] | None) -> BoneEdges | None:
        """Read the ``inference.bone_edges`` entry of a model's metadata (absent or null: no refinement)."""
        if entry is None:
            return None
        if not isinstance(entry, dict):
            raise ModelPackageError(f"inference.bone_edges must be an object, not {entry!r}")
        values = {}
        for key in ("shell_below_hu", "grow_above_hu"):
            value = entry.get(key)
            if value is not None and (not isinstance(value, (int, float)) or not HU_LIMITS[0] <= value <= HU_LIMITS[1]):
                raise ModelPackageError(f"inference.bone_edges.{key} must be a number of HU in {HU_LIMITS}, not {value!r}")
            values[key] = None if value is None else float(value)
        edges = cls(**values)
        return edges if edges.active else None

    @property
    def active(self) -> bool:
        return self.shell_below_hu is not None or self.grow_above_hu is not None

    def to_metadata(self) -> dict[str, float | None]:
        return {"shell_below_hu": self.shell_below_hu, "grow_above_hu": self.grow_above_hu}


def refinable_structure(image_spacing: tuple[float, ...], model_spacing: tuple[float, ...]) -> np.ndarray | None:
    """The neighbourhood (z-y-x, 3 x 3 x 3) of the refinement: face neighbours along the axes where the input
    (x-y-z spacing) is finer than the model grid; None when there is no such axis."""
    finer = [image < model for image, model in zip(image_spacing, model_spacing)][::-1]  # z-y-x
    if not any(finer):
        return None
    structure = np.zeros((3, 3, 3), bool)
    structure[1, 1, 1] = True
    for axis, fine in enumerate(finer):
        if fine:
            index = [1, 1, 1]
            for side in (0, 2):
                index[axis] = side
                structure[tuple(index)] = True
    return structure


@dataclass(frozen=True)
class EdgeCandidates:
    """For one bone in a box around it: the voxels each rule may change, before any threshold is applied."""

    mask: np.ndarray  # the bone
    shell: np.ndarray  # bone voxels next to background: peeled if darker than the threshold
    background: np.ndarray
    hounsfield: np.ndarray


def edge_candidates(labels: np.ndarray, hounsfield: np.ndarray, value: int, structure: np.ndarray) -> EdgeCandidates:
    """The candidates of bone ``value`` in ``labels`` (a box of the labelmap, with its HU)."""
    mask = labels == value
    background = labels == 0
    shell = mask & ~ndimage.binary_erosion(mask, structure, border_value=1) & ndimage.binary_dilation(background, structure)
    return EdgeCandidates(mask, shell, background, hounsfield)


def peeled(candidates: EdgeCandidates, shell_below_hu: float | None) -> np.ndarray:
    """Voxels that leave the bone under the peel rule."""
    if shell_below_hu is None:
        return np.zeros_like(candidates.mask)
    return candidates.shell & (candidates.hounsfield < shell_below_hu)


def grown(candidates: EdgeCandidates, removed: np.ndarray, grow_above_hu: float | None, structure: np.ndarray) -> np.ndarray:
    """Background voxels that join the bone (already without ``removed``) under the grow rule."""
    if grow_above_hu is None:
        return np.zeros_like(candidates.mask)
    kept = candidates.mask & ~removed
    return ndimage.binary_dilation(kept, structure) & candidates.background & (candidates.hounsfield >= grow_above_hu)


def value_boxes(labels: np.ndarray, values: tuple[int, ...], margin: int) -> dict[int, tuple[slice, ...]]:
    """The index box of each of ``values`` present in ``labels``, grown by ``margin`` voxels (clipped)."""
    boxes = ndimage.find_objects(labels)  # one pass, no copy of a big labelmap
    return {
        value: tuple(slice(max(0, s.start - margin), min(size, s.stop + margin)) for s, size in zip(boxes[value - 1], labels.shape))
        for value in values
        if value <= len(boxes) and boxes[value - 1] is not None
    }


def _changes(labels: np.ndarray, hounsfield: np.ndarray, value: int, edges: BoneEdges, structure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where bone ``value`` loses and gains voxels (boolean arrays on ``labels``, a box of the labelmap)."""
    candidates = edge_candidates(labels, hounsfield, value, structure)
    removed = peeled(candidates, edges.shell_below_hu)
    return removed, grown(candidates, removed, edges.grow_above_hu, structure)


def refine_bone_edges(
    labels: np.ndarray, hounsfield: np.ndarray, spacing: tuple[float, ...], values: tuple[int, ...], edges: BoneEdges,
    model_spacing: tuple[float, ...], slab_voxels: int = SLAB_VOXELS,
) -> bool:
    """Refine the edges of the bones ``values`` in ``labels`` (z-y-x, changed in place) from the CT's
    ``hounsfield`` (same grid, x-y-z ``spacing``), as the module's docstring says.

    A big scan is worked through in slabs of about ``slab_voxels`` with ``HALO_SLICES`` of overlap, so memory
    stays bounded (``labels`` may itself be a slab of the labelmap: its outer ``HALO_SLICES`` are then read, not
    got right); every slab reads the unrefined labels, and the changes are applied after the last bone's last
    slab, so each bone is judged as ``calibrate-edges`` scores it. Returns whether the input was fine enough to
    be refined.
    """
    structure = refinable_structure(spacing, model_spacing)
    if structure is None or not edges.active:
        return False
    halo = HALO_SLICES if structure[0, 1, 1] else 0  # no neighbours across slices: slabs need no overlap
    removals, additions = [], []  # (index arrays, value): every bone judged on the unrefined labels
    for value, box in value_boxes(labels, values, margin=1).items():
        z_start, z_stop = box[0].start, box[0].stop
        plane = (box[1].stop - box[1].start) * (box[2].stop - box[2].start)
        step = max(1, slab_voxels // max(plane, 1))
        for core_start in range(z_start, z_stop, step):
            core_stop = min(core_start + step, z_stop)
            low, high = max(z_start, core_start - halo), min(z_stop, core_stop + halo)
            slab = (slice(low, high), box[1], box[2])
            removed, added = _changes(labels[slab], hounsfield[slab], value, edges, structure)
            core = slice(core_start - low, core_stop - low)
            for changes, into in ((removed, removals), (added, additions)):
                index = np.nonzero(changes[core])
                into.append(((index[0] + core_start, index[1] + box[1].start, index[2] + box[2].start), value))
    for index, _ in removals:
        labels[index] = 0
    for index, value in additions:
        labels[index] = value
    return True

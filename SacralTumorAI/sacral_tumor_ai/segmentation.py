"""A segmentation result, shared by the CT and MRI pipelines: labelmap in the input's geometry, volumes, checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.errors import AnatomyNotFoundError
from sacral_tumor_ai.io.scan import Scan
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, LABELS, SACRUM, TUMOR

if TYPE_CHECKING:  # the CT pipeline imports this module
    from sacral_tumor_ai.ctseg.resample_back import SlabRefinement

# Less hip bone than this in view means the scan does not show the pelvis (an adult hip bone is 200-500 mL).
MIN_HIP_BONE_ML = 20.0
# A pelvis's hip bones meet the sacrum at the SI joints (a 2-4 mm gap). When a sacrum is found but neither hip
# bone comes this close to it, the parts are stray calls on other anatomy (an abdominal MRI's body wall and
# retroperitoneum), not a pelvis.
MAX_SI_GAP_MM = 20.0


@dataclass
class Segmentation:
    """A segmentation result in the input's geometry, with what a user needs to judge it."""

    labelmap: sitk.Image
    volumes_ml: dict[str, float]
    tumor_found: bool
    provider: str
    model: dict[str, str]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # pipeline-specific facts (MRI: sequences used, registration)

    def summary(self) -> dict[str, Any]:
        return {
            "tumor_found": self.tumor_found,
            "volumes_ml": self.volumes_ml,
            "provider": self.provider,
            "model": self.model,
            "timings_s": self.timings_s,
            "warnings": self.warnings,
            **self.details,
        }


def label_counts(labels: np.ndarray, slab_voxels: int = 16 * 1024 * 1024) -> np.ndarray:
    """Voxels of each value 0..255 in a uint8 label array, counted slab by slab: ``np.bincount`` turns its
    input into 8-byte integers, which for a whole 1024 x 1024 x 900 labelmap would take 7.5 GB."""
    counts = np.zeros(256, np.int64)
    step = max(1, slab_voxels // max(1, labels[0].size)) if labels.ndim > 1 else labels.size
    for start in range(0, labels.shape[0], step):
        counts += np.bincount(labels[start : start + step].ravel(), minlength=256)[:256]
    return counts


def label_volumes_ml(labelmap: sitk.Image) -> dict[str, float]:
    counts = label_counts(sitk.GetArrayViewFromImage(labelmap))
    voxel_ml = float(np.prod(labelmap.GetSpacing())) / 1000.0
    return {label.name: round(float(counts[label.value]) * voxel_ml, 3) for label in sorted(LABELS, key=lambda l: l.value)}


def hip_to_sacrum_gap_mm(labelmap: sitk.Image) -> float | None:
    """The shortest distance from either hip bone to the sacrum (mm); None when the sacrum or both hip bones
    are missing."""
    from scipy import ndimage

    labels = sitk.GetArrayViewFromImage(labelmap)
    sacrum, hips = labels == SACRUM.value, np.isin(labels, (HIP_LEFT.value, HIP_RIGHT.value))
    if not sacrum.any() or not hips.any():
        return None
    box = ndimage.find_objects((sacrum | hips).astype(np.uint8))[0]  # distances only where the parts are
    part = sitk.GetImageFromArray(sacrum[box].astype(np.uint8))
    part.SetSpacing(labelmap.GetSpacing())
    # ITK's multithreaded distance map: a fraction of scipy's time on a 512 x 512 MRI, which this check runs on.
    distance_map = sitk.SignedMaurerDistanceMap(part, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    # A view does not keep its image alive: the map must stay referenced while the view is read.
    return float(sitk.GetArrayViewFromImage(distance_map)[hips[box]].min())


def check_anatomy(volumes: dict[str, float], source: str, modality: str, both_hips: bool = False, si_gap_mm: float | None = None) -> list[str]:
    """Raise :class:`AnatomyNotFoundError` when no pelvis is in view (``both_hips``: unless each hip bone has
    at least ``MIN_HIP_BONE_ML``; ``si_gap_mm``, from :func:`hip_to_sacrum_gap_mm`: unless a hip bone meets
    the sacrum); otherwise the warnings a user should read (no tumour, a small hip bone)."""
    hips = volumes[HIP_LEFT.name] + volumes[HIP_RIGHT.name]
    smallest = min(volumes[HIP_LEFT.name], volumes[HIP_RIGHT.name])
    found = f"left {volumes[HIP_LEFT.name]:.1f} mL, right {volumes[HIP_RIGHT.name]:.1f} mL"
    if hips < MIN_HIP_BONE_ML or (both_hips and smallest < MIN_HIP_BONE_ML):
        raise AnatomyNotFoundError(
            f"{source}: no pelvis in the field of view (hip bones found: {found}); the model needs {modality} "
            "showing the pelvis"
        )
    if si_gap_mm is not None and si_gap_mm > MAX_SI_GAP_MM:
        raise AnatomyNotFoundError(
            f"{source}: no pelvis in the field of view (the parts called hip bones, {found}, lie {si_gap_mm:.0f} mm "
            f"from the part called sacrum, where a pelvis's meet it at the SI joints); the model needs {modality} showing the pelvis"
        )
    warnings = []
    if volumes[TUMOR.name] <= 0:
        warnings.append("no tumour found by the model; draw it by hand if one is present")
    for label in (HIP_LEFT, HIP_RIGHT):
        if volumes[label.name] < MIN_HIP_BONE_ML:
            warnings.append(f"{label.display_name.lower()} is small or missing ({volumes[label.name]:.1f} mL)")
    return warnings


def labels_onto_input(
    raw: np.ndarray, grid: sitk.Image, image: sitk.Image | Scan, region, values: list[int], provider, progress,
    refine: SlabRefinement | None = None, bones_through_tumour: bool = False,
) -> sitk.Image:
    """Model-grid labels (z-y-x) -> a labelmap on ``image``'s grid (a scan's voxels are read only by the
    refinement and a bone provider other than the model): seed 1's post-processing (largest
    component, holes filled; ``bones_through_tumour``: see :func:`postprocess_labels`), resampling onto the
    input's ``region`` (``refine``d slab by slab if given), then the bone provider's bones if it is not the
    model. Shared by the CT and MRI pipelines."""
    from sacral_tumor_ai.ctseg.postprocess import postprocess_labels
    from sacral_tumor_ai.ctseg.providers import replace_bones
    from sacral_tumor_ai.ctseg.resample_back import labels_onto_region

    cleaned = sitk.GetImageFromArray(postprocess_labels(raw, values, bones_through_tumour))
    cleaned.CopyInformation(grid)
    scan = Scan.of(image)
    labelmap = labels_onto_region(cleaned, scan.geometry, region, values, refine)
    if provider.segment is not None:
        progress.step(0.92, f"hip bones by {provider.name}")
        labelmap = replace_bones(labelmap, provider.segment(scan.image))
    return labelmap


def measured_segmentation(
    labelmap: sitk.Image, provider: str, package, timings: dict[str, float], source: str, modality: str,
    notes: list[str] | tuple[str, ...] = (), both_hips: bool = False, details: dict[str, Any] | None = None,
) -> Segmentation:
    """The result for a finished labelmap: volumes, the anatomy check (which may refuse it, see
    :func:`check_anatomy`; ``both_hips``, as for an MRI, also requires a hip bone to meet the sacrum),
    ``notes`` then its warnings, model name and rounded timings."""
    volumes = label_volumes_ml(labelmap)
    gap = hip_to_sacrum_gap_mm(labelmap) if both_hips else None
    warnings = [*notes, *check_anatomy(volumes, source, modality, both_hips, gap)]
    return Segmentation(
        labelmap=labelmap,
        volumes_ml=volumes,
        tumor_found=volumes[TUMOR.name] > 0,
        provider=provider,
        model={"name": package.name, "version": package.version},
        timings_s={key: round(value, 3) for key, value in timings.items()},
        warnings=warnings,
        details=details or {},
    )

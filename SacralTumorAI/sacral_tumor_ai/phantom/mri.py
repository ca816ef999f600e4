"""Render a generated patient as a four-sequence MRI study (T1-w, T2-w, DWI b = 1000, CET1-w).

The anatomy and tumour are those of :mod:`sacral_tumor_ai.phantom` (same sampling as the CT generator), so
labels stay exact. Each sequence has its own geometry, as in a real study, so registration and resampling
are exercised: T1-w shares the T2-w grid; CET1-w is acquired later, with the patient slightly rotated
(up to 3 degrees) and shifted (up to 4 mm); DWI has about 2x coarser in-plane voxels and 4-6 mm slices.
Every sequence has its own smooth multiplicative bias field (coil sensitivity) and Rician noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.phantom.case import PEAK_MARGIN, ScanSettings, case_patient, case_rng, sample_patient
from sacral_tumor_ai.phantom.ct import Fields, compute_fields, label_fields
from sacral_tumor_ai.phantom.grid import Grid
from sacral_tumor_ai.phantom.pose import Pose
from sacral_tumor_ai.phantom.tumours import Tumour
from sacral_tumor_ai.phantom.mri_contrast import SEQUENCES, TUMOUR as TUMOUR_TISSUE, add_tumour, lookup, study_signal, tissue_map

MRI_SETTINGS = ScanSettings(in_plane_mm=(0.6, 1.0), slice_mm=(3.0, 5.0))


@dataclass
class MriCase:
    """One generated MRI study: sequence images (each on its own grid), labels on the T2-w grid."""

    case_id: str
    images: dict[str, sitk.Image]
    labelmap: sitk.Image  # on the T2-w (and T1-w) grid
    clinical: dict[str, Any]
    tumour: Tumour
    details: dict[str, Any] = field(default_factory=dict)
    sequence_labels: dict[str, sitk.Image] = field(default_factory=dict)  # each sequence's exact labels, on its grid


def _small_pose(rng: np.random.Generator, pose: Pose) -> Pose:
    """The patient's pose at a later acquisition: a few degrees and millimetres away from ``pose``."""
    drift = Pose.sample(rng, max_degrees=3.0, max_shift_mm=4.0)
    return Pose(drift.rotation @ pose.rotation, pose.translation + drift.translation)


def _dwi_grid(rng: np.random.Generator, grid: Grid) -> Grid:
    in_plane = grid.spacing[0] * float(rng.uniform(1.8, 2.4))
    thickness = float(rng.uniform(4.0, 6.0))
    extent = [n * s for n, s in zip(grid.size, grid.spacing)]
    size = (int(extent[0] / in_plane), int(extent[1] / in_plane), max(8, int(extent[2] / thickness)))
    centre = tuple(o + (n - 1) * s / 2 for o, n, s in zip(grid.origin, grid.size, grid.spacing))
    return Grid.around(size, (in_plane, in_plane, thickness), centre)


def bias_field(shape: tuple[int, ...], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Smooth multiplicative field around 1 (+-``strength``): a random quadratic in normalised coordinates."""
    axes = [np.linspace(-1, 1, n, dtype=np.float32) for n in shape]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    a = rng.uniform(-1, 1, 6).astype(np.float32)
    poly = a[0] * x + a[1] * y + a[2] * z + a[3] * x * x + a[4] * y * y + a[5] * x * y
    return (1.0 + strength * poly / max(1e-3, float(np.abs(poly).max()))).astype(np.float32)


def _render_sequence(sequence: str, fields: Fields, grid: Grid, tumour: Tumour, rng: np.random.Generator, anatomy: dict) -> sitk.Image:
    """One sequence's image (int16, signal x 1000) from the signed-distance fields on its grid."""
    tissue = tissue_map(fields, anatomy["subcutaneous_mm"], anatomy["cortex_mm"])
    mass = add_tumour(tissue, fields, tumour.necrotic, tumour.calcified or tumour.sclerotic)
    signal = lookup(tissue, sequence, anatomy["signal"])
    signal *= np.float32(1.0) + np.float32(0.08) * fields.texture
    if sequence == "cet1":
        # Enhancing tumour (not its necrotic core) gains the class-sampled fraction of signal.
        enhancing = mass & (signal > 0.2)
        signal[enhancing] *= np.float32(1.0 + tumour.enhancement)
    if sequence == "dwi" and anatomy["dwi_t2_shine"]:
        signal += np.float32(0.1) * lookup(tissue, "t2", anatomy["signal"])  # T2 shine-through
    signal = ndimage.gaussian_filter(signal, sigma=(0.4, 0.5, 0.5))
    signal *= bias_field(signal.shape, rng, float(rng.uniform(0.1, 0.35)))
    sigma = np.float32(rng.uniform(0.015, 0.04))
    real = signal + sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.sqrt(real * real + imag * imag)  # Rician noise, as in magnitude images
    image = sitk.GetImageFromArray(np.round(magnitude * 1000).astype(np.int16))
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    return image


# generate_mri_case's peak memory (as for CT, 2026-11-28): 1.22 GB for a T2-w grid of 6.5 M voxels (seed 32,
# case 2), 4.30 GB for 25.3 M (case 16): about 0.16 GB plus 164 bytes per T2-w voxel (three grids of fields).
MRI_PEAK_BASE_BYTES = 0.16e9
MRI_PEAK_BYTES_PER_VOXEL = 164.0


def mri_generation_peak_bytes(seed: int, index: int, settings: ScanSettings = MRI_SETTINGS) -> float:
    """Estimated peak memory of ``generate_mri_case(seed, index, settings)``, from its T2-w grid (drawn, not rendered)."""
    voxels = float(np.prod(case_patient(seed, index, settings).grid.size))
    return PEAK_MARGIN * (MRI_PEAK_BASE_BYTES + MRI_PEAK_BYTES_PER_VOXEL * voxels)


def generate_mri_case(seed: int, index: int, settings: ScanSettings = MRI_SETTINGS, class_name: str | None = None) -> MriCase:
    """Generate case ``index`` of cohort ``seed`` as an MRI study; labels (bones and tumour) on the T2-w grid."""
    rng = case_rng(seed, index)
    patient = sample_patient(rng, settings, class_name)
    tumour_class, sex, age, pelvis, body, tumour, pose, grid = (
        patient.tumour_class, patient.sex, patient.age, patient.pelvis, patient.body, patient.tumour, patient.pose, patient.grid
    )
    anatomy = {"subcutaneous_mm": float(rng.uniform(8, 38)), "cortex_mm": float(rng.uniform(1.5, 3.0)), "dwi_t2_shine": bool(rng.random() < 0.5)}
    t2_fat_suppressed = bool(rng.random() < 0.5)
    anatomy["signal"] = study_signal(rng, tumour_class, t2_fat_suppressed)
    geometry = {"t1": (grid, pose), "t2": (grid, pose), "cet1": (grid, _small_pose(rng, pose)), "dwi": (_dwi_grid(rng, grid), pose)}
    fields = {"t2": compute_fields(grid, pose, pelvis, body, tumour, rng)}
    fields["t1"] = fields["t2"]  # same grid, same pose: same fields
    for sequence in ("cet1", "dwi"):
        fields[sequence] = compute_fields(*geometry[sequence], pelvis, body, tumour, rng)
    images = {s: _render_sequence(s, fields[s], geometry[s][0], tumour, rng, anatomy) for s in SEQUENCES}
    # Exact labels on every sequence's own grid: an annotator drawing on CET1-w or DWI draws where the
    # patient was during that acquisition.
    sequence_labels = {}
    for sequence in SEQUENCES:
        sequence_labels[sequence] = sitk.GetImageFromArray(label_fields(fields[sequence]))
        sequence_labels[sequence].CopyInformation(images[sequence])
    labelmap = sequence_labels["t2"]
    labels = sitk.GetArrayViewFromImage(labelmap)
    case_id = f"mri{seed:03d}_{index:05d}"
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    clinical = {
        "case_id": case_id, "class": tumour_class.name, "age": age, "sex": sex, "zone": tumour.zone,
        "side": tumour.side, "sacral_level": tumour.sacral_level,
        "tumour_volume_ml": round(float((labels == TUMOR.value).sum()) * voxel_ml, 2),
    }
    details = {
        "t2_fat_suppressed": t2_fat_suppressed,
        "tumour_signal": {s: anatomy["signal"][s][TUMOUR_TISSUE] for s in ("t1", "t2")},
        "sequences": {
            s: {"spacing_mm": list(g.spacing), "size": list(g.size), "pose_rotation": p.rotation.round(6).tolist(), "pose_translation_mm": p.translation.round(3).tolist()}
            for s, (g, p) in geometry.items()
        }
    }
    return MriCase(case_id, images, labelmap, clinical, tumour, details, sequence_labels)

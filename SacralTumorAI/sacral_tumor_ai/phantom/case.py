"""One generated patient: clinical data, anatomy, tumour, pose and scan geometry, rendered as CT."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.phantom.anatomy import Pelvis
from sacral_tumor_ai.phantom.body import Body
from sacral_tumor_ai.phantom.classes import TumourClass, class_by_name, sample_age, sample_class, sample_sex
from sacral_tumor_ai.phantom.ct import SUB_VOXEL_MM, compute_fields, render
from sacral_tumor_ai.phantom.grid import Grid
from sacral_tumor_ai.phantom.implants import HipImplant, MetalArtefacts, sample_implants
from sacral_tumor_ai.phantom.pose import Pose
from sacral_tumor_ai.phantom.tumours import Tumour, sample_tumour

GENERATOR_VERSION = "1.7"  # 1.1: pubic bones reach the symphysis; the acetabular cup is hollow. 1.2 (MRI only): class-specific tumour T1-w/T2-w signal, fat-suppressed T2-w in half the studies. 1.3: the sacral alae stop 3 mm short of the hip bones (an open SI joint; they met, bone on bone, at the upper sacrum). 1.4 (CT only): partial volume (each voxel averages sub-voxels of at most 1.25 mm; thick slices and coarse pixels were point-sampled, so a 3 mm voxel showed a cortex at full density or not at all) and a pelvic cortex of 0.6-1.4 mm (was 1.5-3 mm). 1.5 (CT only): fattier marrow (pelvic cancellous bone 40-380 HU, was 80-400, lower with age; the proximal femur 40-160 HU below the pelvis, down to -30; the femoral shaft a 3-6 mm cortex around yellow marrow of -90 to 10 HU). 1.6 (CT only): the femoral heads 20-120 HU denser than the pelvis, as real heads are (1.5 made them fatty like the neck, and a model trained on it called the real, dense femoral heads hip bone). 1.7 (CT only): total hip replacements in 12 % of cases (a third of them both hips; never beside the tumour), metal at 3071 HU with the streaks filtered back-projection makes of it (``implants.py``); a case without one is what 1.6 made, voxel for voxel
METAL_STREAM = 1  # the third entry of a case's seed sequence for its prostheses


@dataclass(frozen=True)
class ScanSettings:
    """Scan geometry ranges; each case samples its own values inside them."""

    size: tuple[int, int, int] | None = None  # fixed voxel counts (x, y, z), or None to follow the field of view
    in_plane_mm: tuple[float, float] = (0.6, 1.0)
    slice_mm: tuple[float, float] = (1.0, 5.0)
    field_of_view_mm: tuple[float, float] = (330.0, 420.0)  # in-plane, when size is None
    length_mm: tuple[float, float] = (200.0, 270.0)  # head-foot coverage, when size is None
    max_rotation_degrees: float = 20.0
    max_shift_mm: float = 20.0
    noise_hu: tuple[float, float] = (8.0, 22.0)
    implants: bool = True  # hip prostheses with metal streaks in some cases (CT only)


@dataclass
class GeneratedCase:
    case_id: str
    image: sitk.Image
    labelmap: sitk.Image
    clinical: dict[str, Any]
    tumour: Tumour
    details: dict[str, Any] = field(default_factory=dict)


def case_rng(seed: int, index: int) -> np.random.Generator:
    """Case ``index`` of cohort ``seed`` is the same whatever the cohort size or the order of generation."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def sample_grid(rng: np.random.Generator, settings: ScanSettings) -> Grid:
    in_plane = float(rng.uniform(*settings.in_plane_mm))
    thickness = float(rng.uniform(*settings.slice_mm))
    if settings.size is not None:
        size = settings.size
    else:
        fov = rng.uniform(*settings.field_of_view_mm)
        size = (int(fov / in_plane), int(fov / in_plane), int(rng.uniform(*settings.length_mm) / thickness))
    # The field of view is centred near the pelvis but may cut it at the edges.
    centre = (rng.normal(0, 12), rng.normal(5, 10), rng.normal(-5, 25))
    return Grid.around(size, (in_plane, in_plane, thickness), centre)


@dataclass(frozen=True)
class Patient:
    """Everything drawn for one generated patient before rendering (shared by CT and MRI)."""

    tumour_class: TumourClass
    sex: str
    age: float
    pelvis: Pelvis
    body: Body
    tumour: Tumour
    pose: Pose
    grid: Grid


def sample_patient(rng: np.random.Generator, settings: ScanSettings, class_name: str | None = None) -> Patient:
    """Clinical data, anatomy, tumour, pose and scan grid, in a fixed order of draws (so a seed means one
    patient whatever is rendered from it)."""
    tumour_class = class_by_name(class_name) if class_name else sample_class(rng)
    sex = sample_sex(rng, tumour_class)
    age = sample_age(rng, tumour_class)
    pelvis = Pelvis.sample(rng, sex)
    body = Body.sample(rng, pelvis)
    tumour = sample_tumour(rng, pelvis, tumour_class)
    pose = Pose.sample(rng, settings.max_rotation_degrees, settings.max_shift_mm)
    return Patient(tumour_class, sex, age, pelvis, body, tumour, pose, sample_grid(rng, settings))


def case_patient(seed: int, index: int, settings: ScanSettings) -> Patient:
    """Case ``index`` of cohort ``seed``'s patient, drawn without rendering (to plan a cohort before making it)."""
    return sample_patient(case_rng(seed, index), settings)


def case_implants(seed: int, index: int, patient: Patient) -> tuple[tuple[HipImplant, ...], np.random.Generator]:
    """Case ``index`` of cohort ``seed``'s hip prostheses (mostly none), and the random stream that goes on
    to draw their streaks. A stream of its own: a case without prostheses is what it was before they existed."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, METAL_STREAM]))
    return sample_implants(rng, patient.pelvis, patient.tumour), rng


def first_cases(seed: int, count: int, settings: ScanSettings = ScanSettings(), with_prostheses: bool = True, limit: int = 1000) -> list[int]:
    """The first ``count`` case indices of cohort ``seed`` with (or without) a hip prosthesis, among its first
    ``limit``; drawn without rendering anything."""
    found: list[int] = []
    for index in range(limit):
        if len(found) == count:
            break
        if bool(case_implants(seed, index, case_patient(seed, index, settings))[0]) == with_prostheses:
            found.append(index)
    return found


# generate_case's peak memory (the process's maximum resident set, /usr/bin/time, 2026-11-28): 3.79 GB for a
# grid of 48.0 M sub-voxels (seed 16, case 20), 10.43 GB for 145.1 M (case 71), so about 0.51 GB plus 68 bytes
# per sub-voxel; the margin covers prostheses and the writer (25.2 M sub-voxels: 1.93 GB measured, 2.6 estimated).
PEAK_BASE_BYTES = 0.51e9
PEAK_BYTES_PER_SUB_VOXEL = 68.4
PEAK_MARGIN = 1.15


def generation_peak_bytes(seed: int, index: int, settings: ScanSettings = ScanSettings()) -> float:
    """Estimated peak memory of ``generate_case(seed, index, settings)``, from its grid (drawn, not rendered)."""
    grid = case_patient(seed, index, settings).grid
    sub_voxels = float(np.prod(grid.supersampled(SUB_VOXEL_MM)[0].size))
    return PEAK_MARGIN * (PEAK_BASE_BYTES + PEAK_BYTES_PER_SUB_VOXEL * sub_voxels)


def generate_case(seed: int, index: int, settings: ScanSettings = ScanSettings(), class_name: str | None = None) -> GeneratedCase:
    """Generate case ``index`` of cohort ``seed`` as a CT (optionally forcing the tumour class)."""
    rng = case_rng(seed, index)
    patient = sample_patient(rng, settings, class_name)
    tumour_class, sex, age, pelvis, body, tumour, pose, grid = (
        patient.tumour_class, patient.sex, patient.age, patient.pelvis, patient.body, patient.tumour, patient.pose, patient.grid
    )
    implants, metal_rng = case_implants(seed, index, patient) if settings.implants else ((), None)
    sub_grid, block = grid.supersampled(SUB_VOXEL_MM)
    fields = compute_fields(sub_grid, pose, pelvis, body, tumour, rng, implants)
    artefacts = MetalArtefacts.sample(metal_rng) if metal_rng is not None and implants else None
    hu, labels = render(fields, tumour, rng, age, grid.spacing, float(rng.uniform(*settings.noise_hu)), block, artefacts)
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    labelmap = sitk.GetImageFromArray(labels)
    labelmap.CopyInformation(image)
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    case_id = f"case{seed:03d}_{index:05d}"
    clinical = {
        "case_id": case_id,
        "class": tumour_class.name,
        "age": age,
        "sex": sex,
        "zone": tumour.zone,
        "side": tumour.side,
        "sacral_level": tumour.sacral_level,
        "tumour_volume_ml": round(float((labels == TUMOR.value).sum()) * voxel_ml, 2),
    }
    details = {
        "generator_version": GENERATOR_VERSION,
        "spacing_mm": list(grid.spacing),
        "size": list(grid.size),
        "pose_rotation": pose.rotation.round(6).tolist(),
        "pose_translation_mm": pose.translation.round(3).tolist(),
        "tumour": {k: v for k, v in tumour.__dict__.items() if k not in ("lobes",)},
        "hip_prostheses": [("left" if implant.side == 1 else "right") for implant in implants],
    }
    return GeneratedCase(case_id, image, labelmap, clinical, tumour, details)

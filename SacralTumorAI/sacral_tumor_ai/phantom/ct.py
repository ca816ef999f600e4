"""Render a generated patient as a noncontrast CT in HU, with exact labels.

Distances are computed on the coarse grid and interpolated; every threshold is taken at full resolution.
Tissues are drawn on sub-voxels no larger than ``SUB_VOXEL_MM`` and averaged into each voxel, as a detector
element integrates what it sees: a 3 mm voxel across a 1 mm cortex shows a few hundred HU, not the cortex's
value or nothing (point sampling would alias it). Scanner blur and noise come last. Labels are the structure at
each voxel's centre, so they stay exact while the image shows partial volume like a real scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field

import numpy as np
from scipy import ndimage

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR
from sacral_tumor_ai.phantom import sdf
from sacral_tumor_ai.phantom.anatomy import Pelvis
from sacral_tumor_ai.phantom.body import Body
from sacral_tumor_ai.phantom.grid import FULL, Box, Grid, block_centres, block_mean
from sacral_tumor_ai.phantom.implants import LINER_HU, METAL_HU, HipImplant, MetalArtefacts, metal_streaks
from sacral_tumor_ai.phantom.pose import Pose
from sacral_tumor_ai.phantom.tumours import SHELL_MM, Tumour, tumour_hu

AIR, FAT, MUSCLE, FLUID, GAS, BOWEL = -1000.0, -100.0, 50.0, 8.0, -950.0, 25.0
SUB_VOXEL_MM = 1.25  # below the blurred cortex's width (PSF FWHM about 1.4 mm); coarse enough to keep generation fast
PSF_MM = 0.6  # Gaussian sigma of the scanner's point spread, in every direction
RIM_MM = 1.2  # an expansile tumour's thin shell of bone: within this distance of the mass's surface
RIM_BONE_MM = 12.0  # and only this close to a hip bone or the sacrum
MASK = 1.0  # fields used only as masks (< 0) are interpolated exactly only below this (Grid.upsample_below)


@dataclass(frozen=True)
class Fields:
    """Signed distances (mm) on the output grid, z-y-x, float32."""

    body: np.ndarray
    pelvic_fat: np.ndarray
    bladder: np.ndarray
    rectum: np.ndarray
    loops: np.ndarray
    gas: np.ndarray
    sacrum: np.ndarray
    hip_left: np.ndarray
    hip_right: np.ndarray
    spine: np.ndarray
    femora: np.ndarray
    femoral_region: np.ndarray  # +1 femoral heads, 0 necks and trochanters (and elsewhere), -1 femoral shafts
    tumour: np.ndarray | None
    calcification: np.ndarray | None
    texture: np.ndarray  # smooth noise in [-1, 1]-ish, for tissue texture and permeative patterns
    metal: np.ndarray | None = None  # hip prostheses (``implants.py``)
    liner: np.ndarray | None = None
    # Per field name, the box outside which it is at its level (``Grid.upsample_below_boxed``): never below
    # 0 there, so a renderer may read and write that field's structure within its box alone.
    boxes: dict[str, Box] = dataclass_field(default_factory=dict)

    def box(self, name: str) -> Box:
        """The box that holds every voxel of field ``name`` below 0 (the whole grid if none was recorded)."""
        return self.boxes.get(name, FULL)

    def within_box(self, name: str) -> tuple[Box, np.ndarray]:
        """Field ``name``'s box and the field's values there (a view)."""
        box = self.box(name)
        return box, getattr(self, name)[box]


def compute_fields(grid: Grid, pose: Pose, pelvis: Pelvis, body: Body, tumour: Tumour | None, rng: np.random.Generator,
                   implants: tuple[HipImplant, ...] = ()) -> Fields:
    x, y, z = pose.to_patient(*grid.coarse_points())
    up = grid.upsample
    loops, gas = body.bowel(x, y, z)
    texture = ndimage.gaussian_filter(rng.standard_normal(x.shape, dtype=np.float32), 1.0) * 2.5
    hips = [pelvis.hip(x, y, z, 1), pelvis.hip(x, y, z, -1)]
    femora = np.minimum(pelvis.femur(x, y, z, 1), pelvis.femur(x, y, z, -1))
    for implant in implants:  # the prosthesis replaces the reamed acetabulum and the femoral head and neck
        resected = implant.resected(pelvis, x, y, z)
        side = 0 if implant.side == 1 else 1
        hips[side] = sdf.subtract(hips[side], resected)
        femora = sdf.subtract(femora, resected)
    metal = sdf.union(*[implant.metal(pelvis, x, y, z) for implant in implants]) if implants else None
    liner = sdf.union(*[implant.liner(pelvis, x, y, z) for implant in implants]) if implants else None
    # Most fields are read only below some level (a mask, the pelvic bones' distance near the tumour's rim,
    # the mass within its shell): interpolating them only where they fall below it is what makes a case fast.
    boxes: dict[str, Box] = {}

    def banded(name: str, field: np.ndarray, level: float) -> np.ndarray:
        fine, boxes[name] = grid.upsample_below_boxed(field, level)
        return fine

    def mask(name: str, field: np.ndarray) -> np.ndarray:
        return banded(name, field, MASK)

    def bone(name: str, field: np.ndarray) -> np.ndarray:
        return banded(name, field, RIM_BONE_MM)

    return Fields(
        body=up(body.outline(x, y, z)),  # read deep inside (the subcutaneous fat's depth)
        pelvic_fat=mask("pelvic_fat", body.pelvic_fat(x, y, z, pelvis)),
        bladder=mask("bladder", body.bladder(x, y, z, pelvis)),
        rectum=mask("rectum", body.rectum(x, y, z, pelvis)),
        loops=mask("loops", loops),
        gas=mask("gas", gas),
        sacrum=bone("sacrum", pelvis.sacrum(x, y, z)),
        hip_left=bone("hip_left", hips[0]),
        hip_right=bone("hip_right", hips[1]),
        spine=bone("spine", pelvis.spine(x, y, z)),
        femora=mask("femora", femora),
        femoral_region=up(pelvis.femoral_marrow_region(x, y, z)),  # read wherever the femora are
        tumour=None if tumour is None else banded("tumour", tumour.field(x, y, z), RIM_MM),
        calcification=None if tumour is None or not tumour.calcified else grid.upsample_below(tumour.lobe_shells(x, y, z), SHELL_MM),
        texture=up(texture),
        metal=None if metal is None else mask("metal", metal),
        liner=None if liner is None else mask("liner", liner),
        boxes=boxes,
    )


def _bone_hu(distance: np.ndarray, cortex_mm: float | np.ndarray, cortical: float, cancellous: float | np.ndarray) -> np.ndarray:
    """Cortex over cancellous bone by depth; ``cortex_mm`` and ``cancellous`` may vary per voxel."""
    depth = -distance
    weight = 1.0 / (1.0 + np.exp((depth - cortex_mm) / 0.5))
    return cancellous + (cortical - cancellous) * weight


def render(fields: Fields, tumour: Tumour | None, rng: np.random.Generator, age: float, spacing, noise_hu: float,
           block: tuple[int, int, int] = (1, 1, 1), artefacts: MetalArtefacts | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(HU as int16, labels as uint8), both z-y-x, on the grid of ``spacing`` (x, y, z mm); ``fields`` lie on
    that grid with each voxel split into ``block`` (x, y, z) sub-voxels (``Grid.supersampled``). Metal, when
    ``fields`` hold any, streaks each slice as ``artefacts`` says (its own random stream, so that a case
    without metal draws exactly what it drew before metal existed)."""
    hu, inside = _render_soft_tissue(fields, rng)
    # Bone density falls with age (osteoporosis, marrow turning to fat), cortex thins.
    cancellous = float(np.clip(rng.normal(230 - 1.8 * age, 35), 40, 380))
    cortical = float(rng.uniform(1100, 1500))
    cortex = float(rng.uniform(0.6, 1.4))
    for name in ("spine", "sacrum", "hip_left", "hip_right"):
        box, field = fields.within_box(name)
        bone = field < 0
        hu[box][bone] = _bone_hu(field[bone], cortex, cortical, cancellous) + 20.0 * fields.texture[box][bone]
    _render_femora(hu, fields, rng, cortex, cortical, cancellous)
    if tumour is not None and fields.tumour is not None:
        _render_tumour(hu, fields, tumour, inside, cortical, cancellous)
    if fields.metal is not None and fields.liner is not None:
        for name, value in (("liner", LINER_HU), ("metal", METAL_HU)):
            box, field = fields.within_box(name)
            hu[box][field < 0] = value
    labels = label_fields(fields, block)
    hu = ndimage.gaussian_filter(block_mean(hu, block), sigma=tuple(PSF_MM / s for s in reversed(spacing)))
    if fields.metal is not None and artefacts is not None:
        hu += metal_streaks(block_mean((fields.metal < 0).astype(np.float32), block), float(spacing[0]), artefacts)
    noise = ndimage.gaussian_filter(rng.standard_normal(hu.shape, dtype=np.float32), 0.6) * np.float32(noise_hu * 2.2)
    hu += noise
    np.rint(hu, out=hu)
    return np.clip(hu, -1024, 3071, out=hu).astype(np.int16), labels


def _render_soft_tissue(fields: Fields, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """HU (float32) of air, muscle, subcutaneous and pelvic fat, bowel, gas, rectum and bladder, and the
    body's mask."""
    # Whole-volume tissues are written with np.where/copyto: boolean-index assignment over most of the grid
    # costs three times as much (gather, compute, scatter). The values are the same to the bit.
    texture = fields.texture
    inside = fields.body < 0
    hu = np.where(inside, MUSCLE + 6.0 * texture, np.float32(AIR))
    soft = 8.0 * texture
    subcutaneous = inside & (fields.body > -np.float32(rng.uniform(8, 38)))
    viscera = inside & (fields.pelvic_fat < 0)
    np.copyto(hu, FAT + soft, where=subcutaneous | viscera)
    box, loops = fields.within_box("loops")
    np.copyto(hu[box], BOWEL + soft[box], where=viscera[box] & (loops < 0))
    box, gas = fields.within_box("gas")
    hu[box][viscera[box] & (gas < 0)] = GAS
    box, rectum = fields.within_box("rectum")
    rectum = inside[box] & (rectum < 0)
    hu[box][rectum] = np.where(texture[box][rectum] > 0.8, GAS, BOWEL)
    box, bladder = fields.within_box("bladder")
    hu[box][inside[box] & (bladder < 0)] = FLUID
    return hu, inside


def _render_femora(hu: np.ndarray, fields: Fields, rng: np.random.Generator, cortex: float, cortical: float,
                   cancellous: float) -> None:
    """Proximal femora: a head denser than the pelvis (compressive trabeculae), a neck and trochanters fattier
    than it (an adult's can read 0-50 HU), and in the shaft a thick cortex around yellow (fatty) marrow."""
    dense = min(cancellous + float(rng.uniform(20, 120)), 420.0)
    fatty = max(cancellous - float(rng.uniform(40, 160)), -30.0)
    yellow = float(rng.uniform(-90, 10))
    shaft_cortex = float(rng.uniform(3.0, 6.0))
    box, femora = fields.within_box("femora")
    bone = femora < 0
    region = fields.femoral_region[box][bone]
    head, shaft = np.clip(region, 0, 1), np.clip(-region, 0, 1)
    marrow = fatty + head * (dense - fatty) + shaft * (yellow - fatty)
    hu[box][bone] = _bone_hu(femora[bone], cortex + shaft * (shaft_cortex - cortex), cortical, marrow) + 20.0 * fields.texture[box][bone]


def label_fields(fields: Fields, block: tuple[int, int, int] = (1, 1, 1)) -> np.ndarray:
    """The exact labelmap (uint8, z-y-x) of the fields at the centres of ``block``-sized voxels: bones, then the
    tumour (inside the body) over them."""
    def centres(field: np.ndarray) -> np.ndarray:
        return block_centres(field, block)

    body = centres(fields.body)
    labels = np.zeros(body.shape, np.uint8)
    for field, value in ((fields.sacrum, SACRUM.value), (fields.hip_left, HIP_LEFT.value), (fields.hip_right, HIP_RIGHT.value)):
        labels[centres(field) < 0] = value
    if fields.tumour is not None:
        labels[(centres(fields.tumour) < 0) & (body < 0)] = TUMOR.value
    return labels


def _render_tumour(hu, fields: Fields, tumour: Tumour, inside, cortical: float, cancellous: float) -> None:
    # Everything happens within the tumour field's box: outside it the field is RIM_MM, neither mass nor rim.
    box, distance = fields.within_box("tumour")
    hu, inside = hu[box], inside[box]

    def bone_distance(where: np.ndarray) -> np.ndarray:
        """Distance to the nearest hip bone or sacrum, only where asked (the tumour is small; the grid is not)."""
        return np.minimum(np.minimum(fields.sacrum[box][where], fields.hip_left[box][where]), fields.hip_right[box][where])

    mass = (distance < 0) & inside
    shells = fields.calcification[box][mass] if fields.calcification is not None else None
    hu[mass] = tumour_hu(tumour, distance[mass], fields.texture[box][mass], shells, bone_distance(mass) < 0, cancellous + 60.0)
    if tumour.expansile:
        rim = (np.abs(distance) < RIM_MM) & inside
        rim[rim] = bone_distance(rim) < RIM_BONE_MM
        hu[rim] = 0.6 * cortical

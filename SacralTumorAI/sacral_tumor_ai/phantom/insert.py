"""Lesion insertion into a real CT: a generated tumour of a given class placed in the real sacrum or ilium,
with its HU profile, blended edges, bone destruction and soft-tissue extension; returns the exact mask.

The real scans here carry no bone labels, so insertion sites are found geometrically (bright bone near the
midline behind the pelvis for the sacrum; lateral bone well above the hip joints for the ilium), and the
returned label holds the tumour only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.phantom.classes import TumourClass, sample_age, sample_sex
from sacral_tumor_ai.phantom.tumours import Tumour, tumour_hu
from sacral_tumor_ai.resample import reorient, undo_reorient

BONE_HU = 200.0


@dataclass(frozen=True)
class Sites:
    """Candidate tumour centres (voxel indices z, y, x of the LPS-reoriented scan)."""

    sacrum: np.ndarray
    ilium: np.ndarray


def find_sites(hu: np.ndarray, spacing: tuple[float, float, float]) -> Sites:
    """Sacral and iliac bone voxels of an LPS-oriented CT array (z, y, x; +x left, +y posterior, +z up)."""
    sx, sy, sz = spacing
    bone = hu > BONE_HU
    body = hu > -500
    _, mid_y, mid_x = np.argwhere(body).mean(axis=0)
    lateral = bone.copy()
    lateral[:, :, int(mid_x - 70 / sx) : int(mid_x + 70 / sx)] = False
    # The hip joints are where lateral bone is most abundant in the lower half of the scan.
    area = lateral.sum(axis=(1, 2))
    lower = slice(0, max(1, len(area) * 2 // 3))
    hip_level = int(np.argmax(area[lower]))
    z = np.arange(hu.shape[0])[:, None, None]
    y = np.arange(hu.shape[1])[None, :, None]
    x = np.arange(hu.shape[2])[None, None, :]
    sacrum = bone & (np.abs(x - mid_x) * sx < 28) & ((y - mid_y) * sy > 35) & ((y - mid_y) * sy < 115) & ((z - hip_level) * sz > 20) & ((z - hip_level) * sz < 110)
    ilium = bone & (np.abs(x - mid_x) * sx > 65) & ((z - hip_level) * sz > 45) & ((z - hip_level) * sz < 110)
    # Centres deep in bone, not on its surface.
    sacrum &= ndimage.binary_erosion(bone, iterations=1)
    ilium &= ndimage.binary_erosion(bone, iterations=1)
    return Sites(np.argwhere(sacrum), np.argwhere(ilium))


def _tumour_at(rng: np.random.Generator, tumour_class: TumourClass, centre_mm: np.ndarray, zone: str) -> Tumour:
    radius = float(rng.uniform(*tumour_class.radius_mm))
    lobes = [(float(centre_mm[0]), float(centre_mm[1]), float(centre_mm[2]), radius)]
    for _ in range(int(rng.integers(tumour_class.lobules[0], tumour_class.lobules[1] + 1)) - 1):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        offset = direction * radius * rng.uniform(0.45, 0.8)
        lobes.append((*(float(v) for v in centre_mm + offset), radius * float(rng.uniform(0.45, 0.75))))
    return Tumour(
        class_name=tumour_class.name, zone=zone, side="", sacral_level="", centre=tuple(float(v) for v in centre_mm),
        lobes=tuple(lobes), density_hu=float(rng.uniform(*tumour_class.density_hu)),
        sclerotic=bool(rng.random() < tumour_class.sclerotic_share), calcified=bool(rng.random() < tumour_class.calcification_share),
        necrotic=bool(rng.random() < tumour_class.necrosis_share), expansile=bool(rng.random() < tumour_class.expansile_share),
        permeative=bool(rng.random() < tumour_class.permeative_share), enhancement=float(rng.uniform(*tumour_class.enhancement)),
    )


def insert_lesion(ct: sitk.Image, tumour_class: TumourClass, rng: np.random.Generator) -> tuple[sitk.Image, sitk.Image, dict]:
    """``ct`` with a tumour of ``tumour_class`` inserted, its exact tumour mask, and what was inserted."""
    oriented = reorient(ct)
    hu = sitk.GetArrayFromImage(oriented).astype(np.float32)
    spacing = oriented.GetSpacing()
    sites = find_sites(hu, spacing)
    use_sacrum = sites.sacrum.size and (not sites.ilium.size or rng.random() < tumour_class.zone_prior.get("IV", 0.3) + 0.2)
    candidates, zone = (sites.sacrum, "IV") if use_sacrum else (sites.ilium, "I")
    if not candidates.size:
        raise ValueError("no sacral or iliac bone found for lesion insertion")
    k, j, i = candidates[int(rng.integers(len(candidates)))]
    spacing_zyx = np.array(spacing[::-1], np.float32)
    centre = np.array([i, j, k], np.float32) * np.array(spacing, np.float32)
    tumour = _tumour_at(rng, tumour_class, centre, zone)
    reach = int(np.ceil(max(r for *_, r in tumour.lobes) * 1.9 / min(spacing)))
    low = np.maximum(np.array([k, j, i]) - reach, 0)
    high = np.minimum(np.array([k, j, i]) + reach + 1, hu.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high))
    zz, yy, xx = np.meshgrid(*[np.arange(a, b, dtype=np.float32) * s for a, b, s in zip(low, high, spacing_zyx)], indexing="ij")
    distance = tumour.field(xx, yy, zz)
    region = hu[box]
    body = ndimage.binary_fill_holes(region > -500)
    mask = (distance < 0) & body
    texture = ndimage.gaussian_filter(rng.standard_normal(region.shape).astype(np.float32), 1.2) * 2.5
    shells = tumour.lobe_shells(xx, yy, zz) if tumour.calcified else None
    value = tumour_hu(tumour, distance, texture, shells, region > BONE_HU, region)
    weight = np.clip(0.5 - distance / 1.5, 0.0, 1.0) * body  # edges blended over about 1.5 mm
    blended = weight * (value + rng.normal(0, 10, region.shape).astype(np.float32)) + (1 - weight) * region
    if tumour.expansile:
        rim = (np.abs(distance) < 1.0) & body & (ndimage.binary_dilation(region > BONE_HU, iterations=3))
        blended[rim] = 750.0
    hu[box] = blended
    labels = np.zeros(hu.shape, np.uint8)
    labels[box][mask] = TUMOR.value
    out_image = sitk.GetImageFromArray(np.clip(np.round(hu), -32768, 32767).astype(np.int16))
    out_image.CopyInformation(oriented)
    out_labels = sitk.GetImageFromArray(labels)
    out_labels.CopyInformation(oriented)
    info = {"class": tumour_class.name, "zone": zone, "volume_ml": round(float(mask.sum() * np.prod(spacing) / 1000), 2)}
    return undo_reorient(out_image, ct), undo_reorient(out_labels, ct), info


def insert_case(ct: sitk.Image, tumour_class: TumourClass, rng: np.random.Generator) -> tuple[sitk.Image, sitk.Image, dict]:
    """:func:`insert_lesion` plus the clinical data a generated patient of that class would have."""
    image, labels, info = insert_lesion(ct, tumour_class, rng)
    info.update({"age": sample_age(rng, tumour_class), "sex": sample_sex(rng, tumour_class)})
    return image, labels, info

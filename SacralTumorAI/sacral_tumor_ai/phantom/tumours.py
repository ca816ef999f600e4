"""Tumour geometry and texture: where a class's tumour sits, its lobulated shape, its density pattern."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sacral_tumor_ai.phantom import sdf
from sacral_tumor_ai.phantom.anatomy import _LEVEL_EDGES, SACRAL_LEVELS, Pelvis
from sacral_tumor_ai.phantom.classes import TumourClass, sample_zone

PERIACETABULAR_RADIUS_MM = 48.0  # zone II: bone within this distance of the acetabular centre

SHELL_MM = 1.0  # chondroid calcification: within this distance of a lobe's shell


@dataclass(frozen=True)
class Tumour:
    """One sampled tumour, in the patient's frame (mm)."""

    class_name: str
    zone: str  # Enneking zone of the centre
    side: str  # "left", "right" or "midline"
    sacral_level: str  # "" outside the sacrum
    centre: tuple[float, float, float]
    lobes: tuple[tuple[float, float, float, float], ...]  # (x, y, z, radius) of each lobe
    density_hu: float
    sclerotic: bool
    calcified: bool
    necrotic: bool
    expansile: bool
    permeative: bool
    enhancement: float

    def field(self, x, y, z) -> np.ndarray:
        """Signed distance of the lobulated mass."""
        result = None
        for lx, ly, lz, radius in self.lobes:
            lobe = sdf.sphere(x, y, z, (lx, ly, lz), radius)
            result = lobe if result is None else sdf.smooth_union(result, lobe, radius * 0.35)
        return result

    def lobe_shells(self, x, y, z) -> np.ndarray:
        """Distance to the nearest lobe boundary (for chondroid ring-and-arc calcification)."""
        return np.minimum.reduce([np.abs(sdf.sphere(x, y, z, (lx, ly, lz), r * 0.8)) for lx, ly, lz, r in self.lobes])


def zone_of(pelvis: Pelvis, x: float, y: float, z: float, in_sacrum: bool) -> str:
    """Enneking zone of a bone point: IV sacrum; II near the acetabulum; I above it; III below it."""
    if in_sacrum:
        return "IV"
    ax, ay, az = pelvis.acetabulum
    if np.sqrt((abs(x) - ax) ** 2 + (y - ay) ** 2 + (z - az) ** 2) < PERIACETABULAR_RADIUS_MM * pelvis.scale:
        return "II"
    return "I" if z > az else "III"


def _point_in_zone(rng: np.random.Generator, pelvis: Pelvis, zone: str, side: int) -> tuple[float, float, float]:
    """A random point inside the bone of ``zone`` (rejection sampling against the bone's distance field)."""
    s = pelvis.scale
    ax, ay, az = pelvis.acetabulum
    for _ in range(60):
        n = 256
        if zone == "IV":
            x = rng.uniform(-45, 45, n) * s
            y = rng.uniform(-10, 60, n) * s
            z = rng.uniform(pelvis.sacrum_top - pelvis.sacrum_length, pelvis.sacrum_top, n)
            inside = pelvis.sacrum(x, y, z) < -2.0
        else:
            x = side * rng.uniform(10, 150, n) * s
            y = rng.uniform(-90, 60, n) * s
            z = rng.uniform(az - 80 * s, pelvis.crest_height, n)
            inside = pelvis.hip(x, y, z, side) < -1.5
            inside &= np.array([zone_of(pelvis, a, b, c, False) == zone for a, b, c in zip(x, y, z)])
        hits = np.flatnonzero(inside)
        if hits.size:
            i = int(rng.choice(hits))
            return float(x[i]), float(y[i]), float(z[i])
    raise RuntimeError(f"no bone found in zone {zone}")


def _sacral_point(rng: np.random.Generator, pelvis: Pelvis, tumour_class: TumourClass) -> tuple[float, float, float]:
    level = int(rng.choice(5, p=np.array(tumour_class.sacral_level_prior) / sum(tumour_class.sacral_level_prior)))
    t = rng.uniform(_LEVEL_EDGES[level], _LEVEL_EDGES[level + 1])
    z = pelvis.sacrum_top - t * pelvis.sacrum_length
    half_width = pelvis.sacrum_half_width * (1 - t) ** 0.9 + 9 * pelvis.scale
    x = 0.0 if rng.random() < tumour_class.midline_share else float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.7) * half_width)
    return x, float(pelvis.sacral_centre_y(np.float32(t))), float(z)


def sample_tumour(rng: np.random.Generator, pelvis: Pelvis, tumour_class: TumourClass) -> Tumour:
    zone = sample_zone(rng, tumour_class)
    side = int(rng.choice([-1, 1]))
    centre = _sacral_point(rng, pelvis, tumour_class) if zone == "IV" else _point_in_zone(rng, pelvis, zone, side)
    radius = float(rng.uniform(*tumour_class.radius_mm)) * pelvis.scale
    count = int(rng.integers(tumour_class.lobules[0], tumour_class.lobules[1] + 1))
    lobes = [(centre[0], centre[1], centre[2], radius)]
    for _ in range(count - 1):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        offset = direction * radius * rng.uniform(0.45, 0.8)
        lobes.append((centre[0] + offset[0], centre[1] + offset[1], centre[2] + offset[2], radius * rng.uniform(0.45, 0.75)))
    if zone == "IV":
        side_name = "midline" if abs(centre[0]) < 8 else ("left" if centre[0] > 0 else "right")
        level = pelvis.sacral_level(centre[2])
    else:
        side_name, level = ("left" if side > 0 else "right"), ""
    return Tumour(
        class_name=tumour_class.name,
        zone=zone,
        side=side_name,
        sacral_level=level,
        centre=tuple(float(v) for v in centre),
        lobes=tuple(tuple(float(v) for v in lobe) for lobe in lobes),
        density_hu=float(rng.uniform(*tumour_class.density_hu)),
        sclerotic=bool(rng.random() < tumour_class.sclerotic_share),
        calcified=bool(rng.random() < tumour_class.calcification_share),
        necrotic=bool(rng.random() < tumour_class.necrosis_share),
        expansile=bool(rng.random() < tumour_class.expansile_share),
        permeative=bool(rng.random() < tumour_class.permeative_share),
        enhancement=float(rng.uniform(*tumour_class.enhancement)),
    )


__all__ = ["PERIACETABULAR_RADIUS_MM", "SACRAL_LEVELS", "Tumour", "sample_tumour", "zone_of"]


def tumour_hu(
    tumour: Tumour,
    distance: np.ndarray,
    texture: np.ndarray,
    shells: np.ndarray | None,
    residual_bone: np.ndarray,
    residual_hu: np.ndarray | float,
) -> np.ndarray:
    """HU of the tumour matrix at points with signed ``distance`` to the mass and smooth ``texture`` noise:
    soft tissue, then (by class draw) necrotic centre, moth-eaten residual bone where ``residual_bone``,
    sclerotic osteoid, and chondroid rings along the lobe ``shells``."""
    value = tumour.density_hu + 9.0 * texture
    if tumour.necrotic:
        value = np.where(distance < -0.45 * tumour.lobes[0][3], tumour.density_hu - 18.0 + 5.0 * texture, value)
    if tumour.permeative:
        value = np.where(residual_bone & (texture > 0.35), residual_hu, value)
    if tumour.sclerotic:
        value = np.where(texture > 0.2, 350.0 + 500.0 * np.clip(texture - 0.2, 0, 1), value)
    if tumour.calcified and shells is not None:
        value = np.where((shells < SHELL_MM) & (texture > -0.3), 700.0 + 150.0 * texture, value)
    return value.astype(np.float32)

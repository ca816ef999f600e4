"""Enneking pelvic zones and sacral levels of tumour points expressed in the hip frame.

Each tumour point belongs to the structure it lies nearest to, within ``ASSIGN_MM`` (a tumour that destroyed
bone sits where that bone was; further out it is soft-tissue extension and has no zone). A point of a hip
bone is zone II within ``ZONE_II_RADIUS`` x scale of that side's acetabular centre, else zone I above the
acetabular centre (ilium) and zone III below it (pubis and ischium); a point of the sacrum is zone IV, at
level S1..S5 by its height between the top and the tip of the sacrum. A zone or level is listed when it
holds at least ``MIN_SHARE`` of the tumour's bone points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sacral_tumor_ai.hipframe.anatomy_template import SACRAL_LEVEL_EDGES, SACRAL_LEVELS, ZONE_II_RADIUS

ZONES = ("I", "II", "III", "IV")
ASSIGN_MM = 15.0
MIN_SHARE = 0.05


@dataclass(frozen=True)
class ZoneResult:
    zones: list[str]
    zone_fractions: dict[str, float]  # share of the tumour's bone points in each zone
    sacral_levels: list[str]
    sacral_level_fractions: dict[str, float]


def hip_zone(points: np.ndarray, acetabulum: np.ndarray, scale_mm: float) -> np.ndarray:
    """Zone ("I", "II" or "III") of hip-bone points (frame coordinates, mm) given that side's acetabular centre."""
    near = np.linalg.norm(points - acetabulum, axis=1) < ZONE_II_RADIUS * scale_mm
    return np.where(near, "II", np.where(points[:, 2] > acetabulum[2], "I", "III"))


def sacral_levels_of(z: np.ndarray, sacrum_top: float, sacrum_bottom: float) -> np.ndarray:
    """S1..S5 of heights ``z`` (frame mm) on a sacrum spanning ``sacrum_bottom``..``sacrum_top``."""
    t = np.clip((sacrum_top - z) / max(sacrum_top - sacrum_bottom, 1e-6), 0.0, 1.0)
    index = np.clip(np.searchsorted(SACRAL_LEVEL_EDGES, t, side="right") - 1, 0, len(SACRAL_LEVELS) - 1)
    return np.asarray(SACRAL_LEVELS)[index]


def _shares(values: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    if values.size == 0:
        return {}
    return {name: round(float(np.mean(values == name)), 4) for name in names if np.any(values == name)}


def zones_of(
    structure: np.ndarray,
    points: np.ndarray,
    acetabula: dict[str, np.ndarray],
    scale_mm: float,
    sacrum_z_range: tuple[float, float] | None,
) -> ZoneResult:
    """Zones of tumour ``points`` (frame mm) whose nearest ``structure`` is "hip_left", "hip_right", "sacrum"
    or "soft_tissue"; ``acetabula`` holds each side's centre; ``sacrum_z_range`` (bottom, top) or None."""
    zone = np.full(len(points), "", dtype=object)
    for side in ("hip_left", "hip_right"):
        mask = structure == side
        if mask.any():
            zone[mask] = hip_zone(points[mask], acetabula[side], scale_mm)
    in_sacrum = structure == "sacrum"
    zone[in_sacrum] = "IV"
    bone_zones = zone[zone != ""].astype(str)
    zone_fractions = _shares(bone_zones, ZONES)
    level_fractions: dict[str, float] = {}
    if in_sacrum.any() and sacrum_z_range is not None:
        level_fractions = _shares(sacral_levels_of(points[in_sacrum, 2], sacrum_z_range[1], sacrum_z_range[0]), SACRAL_LEVELS)
    return ZoneResult(
        zones=[z for z in ZONES if zone_fractions.get(z, 0.0) >= MIN_SHARE],
        zone_fractions=zone_fractions,
        sacral_levels=[level for level in SACRAL_LEVELS if level_fractions.get(level, 0.0) >= MIN_SHARE],
        sacral_level_fractions=level_fractions,
    )

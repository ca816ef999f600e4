"""Soft tissues around the pelvis: skin, subcutaneous fat, muscle, pelvic fat, bowel with gas, bladder,
rectum; each a signed-distance field in the patient's frame (mm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sacral_tumor_ai.phantom import sdf
from sacral_tumor_ai.phantom.anatomy import Pelvis


@dataclass(frozen=True)
class Body:
    half_width: float  # mm, left-right semi-axis of the body outline at the hips
    half_depth: float  # mm, antero-posterior semi-axis
    fat_mm: float  # subcutaneous fat thickness
    bladder_fill: float  # 0.4 (nearly empty) .. 1.2 (full)
    loops: tuple[tuple[float, float, float, float, bool], ...]  # bowel loops: x, y, z, radius, gas-filled

    @classmethod
    def sample(cls, rng: np.random.Generator, pelvis: Pelvis) -> Body:
        fat = float(rng.uniform(8, 38))
        loops = []
        for _ in range(int(rng.integers(6, 14))):
            loops.append((float(rng.uniform(-80, 80)), float(rng.uniform(-95, -20)), float(rng.uniform(-5, 110)), float(rng.uniform(10, 19)), bool(rng.random() < 0.3)))
        return cls(
            half_width=(150 + fat) * pelvis.scale * pelvis.width,
            half_depth=(100 + 0.8 * fat) * pelvis.scale,
            fat_mm=fat,
            bladder_fill=float(rng.uniform(0.4, 1.2)),
            loops=tuple(loops),
        )

    def outline(self, x, y, z) -> np.ndarray:
        """The skin surface: an elliptic cylinder, widest at the hips, gluteal bulge behind."""
        widening = 1.0 + 0.06 * np.cos(np.clip(z / 160.0, -1.5, 1.5) * 2.0)
        q = np.sqrt((x / (self.half_width * widening)) ** 2 + ((y - 8.0) / self.half_depth) ** 2)
        return (q - 1.0) * np.float32(min(self.half_width, self.half_depth))

    def pelvic_fat(self, x, y, z, pelvis: Pelvis) -> np.ndarray:
        """Fat and viscera inside the pelvic ring and the lower abdomen."""
        s = pelvis.scale
        lesser = sdf.ellipsoid(x, y, z, (0, -18 * s, -20 * s), (62 * s * pelvis.width, 52 * s, 70 * s))
        abdomen = sdf.ellipsoid(x, y, z, (0, -35 * s, 95 * s), (105 * s, 70 * s, 90 * s))
        return sdf.smooth_union(lesser, abdomen, 20.0)

    def bladder(self, x, y, z, pelvis: Pelvis) -> np.ndarray:
        s, f = pelvis.scale, self.bladder_fill
        return sdf.ellipsoid(x, y, z, (0, -52 * s, -42 * s + 12 * f), (36 * s * f, 28 * s * f, 26 * s * f))

    def rectum(self, x, y, z, pelvis: Pelvis) -> np.ndarray:
        s = pelvis.scale
        return sdf.capsule(x, y, z, (4, 18 * s, -62 * s), (-6, 0, 15 * s), 13 * s)

    def bowel(self, x, y, z) -> tuple[np.ndarray, np.ndarray]:
        """(loops, gas) distance fields: loops hold fluid/stool, some are gas-filled, others have bubbles."""
        loops = []
        gas = []
        for lx, ly, lz, radius, gas_filled in self.loops:
            loop = sdf.sphere(x, y, z, (lx, ly, lz), radius)
            loops.append(loop)
            gas.append(loop + 2.0 if gas_filled else sdf.sphere(x, y, z, (lx, ly - 0.4 * radius, lz), radius * 0.35))
        return np.minimum.reduce(loops), np.minimum.reduce(gas)

"""Evaluate fields coarsely and upsample them exactly onto the output grid (separable linear interpolation).

Anatomy is smooth at the scale of a few millimetres, so its signed distances are computed on a grid every
``factor`` voxels and interpolated; thresholds are then taken at full resolution, so labels stay smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """An axis-aligned output grid (LPS) and its coarse companion; arrays are z, y, x."""

    size: tuple[int, int, int]  # x, y, z voxels
    spacing: tuple[float, float, float]  # mm
    origin: tuple[float, float, float]  # mm, centre of the first voxel
    factor: tuple[int, int, int]  # coarse step in voxels along x, y, z

    @classmethod
    def around(cls, size, spacing, centre, coarse_mm: float = 3.0) -> Grid:
        origin = tuple(c - (n - 1) * s / 2 for c, n, s in zip(centre, size, spacing))
        factor = tuple(max(1, int(round(coarse_mm / s))) for s in spacing)
        return cls(tuple(size), tuple(spacing), origin, factor)

    def coarse_axes(self) -> list[np.ndarray]:
        """Physical coordinates of the coarse samples along x, y, z (covering the whole output grid)."""
        axes = []
        for n, s, o, f in zip(self.size, self.spacing, self.origin, self.factor):
            count = (n - 1) // f + 2  # one sample beyond the end so interpolation never extrapolates
            axes.append((o + np.arange(count) * f * s).astype(np.float32))
        return axes

    def coarse_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y, z = self.coarse_axes()
        return _mesh(x, y, z)

    def upsample(self, coarse: np.ndarray) -> np.ndarray:
        """Linear interpolation of a coarse (z, y, x) field onto the output grid."""
        result = coarse
        for axis, (n, f) in zip((2, 1, 0), zip(self.size, self.factor)):
            if f == 1:
                result = np.take(result, np.arange(n), axis=axis)
                continue
            position = np.arange(n) / f
            low = position.astype(np.int64)
            weight = (position - low).astype(np.float32)
            shape = [1, 1, 1]
            shape[axis] = n
            weight = weight.reshape(shape)
            result = np.take(result, low, axis=axis) * (1 - weight) + np.take(result, low + 1, axis=axis) * weight
        return result.astype(np.float32)


def _mesh(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    return xx, yy, zz

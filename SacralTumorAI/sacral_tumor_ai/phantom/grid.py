"""Evaluate fields coarsely and upsample them exactly onto the output grid (separable linear interpolation).

Anatomy is smooth at the scale of a few millimetres, so its signed distances are computed on a grid every
``factor`` voxels and interpolated; thresholds are then taken at full resolution, so labels stay smooth.
A grid may also be split into sub-voxels (``Grid.supersampled``) and averaged back (``block_mean``), which
gives a rendered image the partial volume of a real detector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Box = tuple[slice, slice, slice]  # z, y, x
FULL: Box = (slice(None),) * 3


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
        return cls(tuple(size), tuple(spacing), origin, _coarse_factor(spacing, coarse_mm))

    def supersampled(self, step_mm: float, coarse_mm: float = 3.0) -> tuple[Grid, tuple[int, int, int]]:
        """A grid that splits each voxel into ``block`` (x, y, z) sub-voxels no larger than ``step_mm``, so a
        renderer can average them back into one voxel: the partial volume of a real detector element."""
        block = tuple(max(1, math.ceil(s / step_mm - 1e-6)) for s in self.spacing)
        spacing = tuple(s / k for s, k in zip(self.spacing, block))
        size = tuple(n * k for n, k in zip(self.size, block))
        origin = tuple(o - s / 2 + f / 2 for o, s, f in zip(self.origin, self.spacing, spacing))
        return Grid(size, spacing, origin, _coarse_factor(spacing, coarse_mm)), block

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
        return self._upsample(np.asarray(coarse, np.float32), self.size)

    def upsample_below(self, coarse: np.ndarray, level: float) -> np.ndarray:
        """:meth:`upsample`, exact wherever the field is below ``level`` and ``level`` wherever it is not.

        For fields that are only compared with values at or below ``level`` (a mask ``< 0``, a distance
        ``< 12``): interpolation runs only over the box of coarse cells with a corner below ``level``, the rest
        of the grid is filled. Outside that box every cell's corners are at or above ``level``, and a linear
        interpolation never goes below its corners, so no comparison changes; inside it, the arithmetic is the
        same to the bit (each output voxel has the same two neighbours and weight)."""
        return self.upsample_below_boxed(coarse, level)[0]

    def upsample_below_boxed(self, coarse: np.ndarray, level: float) -> tuple[np.ndarray, Box]:
        """:meth:`upsample_below` and the box (z, y, x slices) outside which the result is ``level``, so that a
        renderer can work on the box alone (empty slices when the field is nowhere below ``level``)."""
        coarse = np.asarray(coarse, np.float32)
        result = np.full(tuple(reversed(self.size)), level, np.float32)
        below = np.nonzero(coarse < level)
        if not below[0].size:
            return result, (slice(0, 0),) * 3
        box, size = [], []
        for axis, f, n in zip((0, 1, 2), reversed(self.factor), reversed(self.size)):
            first = max(int(below[axis].min()) - 1, 0)  # the cells on both sides of each point below
            last = min(int(below[axis].max()) + 1, coarse.shape[axis] - 1)
            box.append(slice(first, last + 1))
            size.append(min(last * f, n) - first * f)
        block = self._upsample(coarse[tuple(box)], tuple(reversed(size)))
        fine = tuple(slice(b.start * f, b.start * f + k) for b, f, k in zip(box, reversed(self.factor), size))
        result[fine] = block
        return result, fine

    def _upsample(self, coarse: np.ndarray, size: tuple[int, int, int]) -> np.ndarray:
        result = coarse
        # The axis that grows most goes last, so the earlier passes work on smaller arrays.
        for axis, n, f in sorted(zip((2, 1, 0), size, self.factor), key=lambda step: step[2]):
            result = _interpolate_axis(result, axis, n, f)
        return result


def block_mean(array: np.ndarray, block: tuple[int, int, int]) -> np.ndarray:
    """Mean over each ``block`` (x, y, z) of a (z, y, x) array: sub-voxels back to voxels."""
    if block == (1, 1, 1):
        return array
    kx, ky, kz = block
    nz, ny, nx = (n // k for n, k in zip(array.shape, (kz, ky, kx)))
    return array.reshape(nz, kz, ny, ky, nx, kx).mean(axis=(1, 3, 5), dtype=np.float32)


def block_centres(array: np.ndarray, block: tuple[int, int, int]) -> np.ndarray:
    """The value at each block's centre (the mean of the two middle sub-voxels along an even block side):
    a linearly interpolated field sampled at the voxel centres of the unsplit grid."""
    result = array
    for axis, k in zip((2, 1, 0), block):
        if k == 1:
            continue
        moved = np.moveaxis(result, axis, 0)
        split = moved.reshape(moved.shape[0] // k, k, *moved.shape[1:])
        middle = split[:, k // 2] if k % 2 else 0.5 * (split[:, k // 2 - 1] + split[:, k // 2])
        result = np.moveaxis(middle, 0, axis)
    return np.ascontiguousarray(result)


def _interpolate_axis(values: np.ndarray, axis: int, n: int, f: int) -> np.ndarray:
    """``n`` samples along ``axis``, ``f`` per coarse interval, linearly interpolated (written in one pass)."""
    if f == 1:
        return values[(slice(None),) * axis + (slice(0, n),)]
    intervals = -(-n // f)
    before = (slice(None),) * axis
    low = values[before + (slice(0, intervals),)]
    rise = values[before + (slice(1, intervals + 1),)] - low
    weight = (np.arange(f, dtype=np.float32) / f).reshape((1,) * (axis + 1) + (f,) + (1,) * (values.ndim - axis - 1))
    out = np.empty(low.shape[: axis + 1] + (f,) + low.shape[axis + 1 :], np.float32)
    np.multiply(np.expand_dims(rise, axis + 1), weight, out=out)
    out += np.expand_dims(low, axis + 1)
    merged = out.reshape(low.shape[:axis] + (intervals * f,) + low.shape[axis + 1 :])
    return merged[before + (slice(0, n),)]


def _coarse_factor(spacing, coarse_mm: float) -> tuple[int, int, int]:
    return tuple(max(1, int(round(coarse_mm / s))) for s in spacing)


def _mesh(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    return xx, yy, zz

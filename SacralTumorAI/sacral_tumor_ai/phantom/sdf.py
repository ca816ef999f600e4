"""Signed-distance primitives (mm; negative inside) evaluated on arrays of points, float32 throughout."""

from __future__ import annotations

import numpy as np


def sphere(x: np.ndarray, y: np.ndarray, z: np.ndarray, centre, radius: float) -> np.ndarray:
    return np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2) - radius


def ellipsoid(x, y, z, centre, radii) -> np.ndarray:
    """Approximate distance to an ellipsoid (exact on spheres, good enough near the surface)."""
    q = np.sqrt(((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + ((z - centre[2]) / radii[2]) ** 2)
    return (q - 1.0) * float(min(radii))


def capsule(x, y, z, a, b, radius_a: float, radius_b: float | None = None) -> np.ndarray:
    """A rod from ``a`` to ``b`` with radius tapering from ``radius_a`` to ``radius_b``."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    axis = b - a
    length2 = float(axis @ axis)
    t = np.clip(((x - a[0]) * axis[0] + (y - a[1]) * axis[1] + (z - a[2]) * axis[2]) / length2, 0.0, 1.0)
    distance = np.sqrt((x - a[0] - t * axis[0]) ** 2 + (y - a[1] - t * axis[1]) ** 2 + (z - a[2] - t * axis[2]) ** 2)
    radius = radius_a if radius_b is None else radius_a + t * (radius_b - radius_a)
    return distance - radius


def box(x, y, z, centre, half) -> np.ndarray:
    qx, qy, qz = np.abs(x - centre[0]) - half[0], np.abs(y - centre[1]) - half[1], np.abs(z - centre[2]) - half[2]
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2 + np.maximum(qz, 0) ** 2)
    return outside + np.minimum(np.maximum(np.maximum(qx, qy), qz), 0)


def union(*fields: np.ndarray) -> np.ndarray:
    return np.minimum.reduce(fields)


def smooth_union(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Union with a fillet of about ``k`` mm, so joined parts look grown together, not glued."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, -b)


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)

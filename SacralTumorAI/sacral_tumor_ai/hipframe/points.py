"""Structures of a labelmap as point clouds in world coordinates (LPS mm), each point standing for a volume.

Working on points rather than on voxel grids makes everything downstream independent of the scan's voxel
size, orientation and direction matrix (oblique, feet-first, prone or mirrored alike): a point's world
position is the same however the voxels were stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

WORKING_SPACING_MM = 2.0  # bones are sampled about this finely; finer adds time, not accuracy


@dataclass(frozen=True)
class PointCloud:
    """World positions (n, 3) of a structure's voxels and the volume (mL) each one stands for."""

    points: np.ndarray
    point_ml: float

    @property
    def volume_ml(self) -> float:
        return len(self.points) * self.point_ml

    @property
    def centroid(self) -> np.ndarray:
        return self.points.mean(axis=0)

    def __bool__(self) -> bool:
        return len(self.points) > 0


def index_to_world(image: sitk.Image, index_xyz: np.ndarray) -> np.ndarray:
    """World (LPS mm) positions of continuous voxel indices (n, 3) in ITK's (i, j, k) order."""
    direction = np.array(image.GetDirection(), np.float64).reshape(3, 3)
    scaled = index_xyz * np.array(image.GetSpacing(), np.float64)
    return np.array(image.GetOrigin(), np.float64) + scaled @ direction.T


def strides_for(image: sitk.Image, spacing_mm: float = WORKING_SPACING_MM) -> tuple[int, int, int]:
    """Per-axis (i, j, k) voxel strides giving about ``spacing_mm`` between sampled voxels."""
    return tuple(max(1, int(spacing_mm / s)) for s in image.GetSpacing())


def sampled(array: np.ndarray, strides: tuple[int, int, int]) -> np.ndarray:
    """A contiguous copy of every ``strides`` (i, j, k) voxel of a z, y, x array (one pass, then cheap scans)."""
    si, sj, sk = strides
    return np.ascontiguousarray(array[::sk, ::sj, ::si])


def structure_points(image: sitk.Image, array: np.ndarray, value: int, strides: tuple[int, int, int] = (1, 1, 1)) -> PointCloud:
    """Points of label ``value`` in ``array``: the labelmap's z, y, x array, or its :func:`sampled` copy
    taken with ``strides``."""
    kji = np.argwhere(array == value).astype(np.float64) * strides[::-1]
    voxel_ml = float(np.prod(image.GetSpacing())) * int(np.prod(strides)) / 1000.0
    return PointCloud(index_to_world(image, kji[:, ::-1]), voxel_ml)


def fine_structure_points(image: sitk.Image, array: np.ndarray, value: int, coarse: np.ndarray, strides: tuple[int, int, int]) -> PointCloud:
    """Every voxel of label ``value``, scanning only the box where the :func:`sampled` copy ``coarse`` found
    it (grown by a stride); the whole array when the sample missed it (a structure smaller than a stride)."""
    found = np.argwhere(coarse == value)
    if not len(found):
        return structure_points(image, array, value)
    step = np.array(strides[::-1])
    low = np.maximum(found.min(axis=0) * step - step, 0)
    high = np.minimum(found.max(axis=0) * step + 2 * step, array.shape)
    kji = np.argwhere(array[low[0] : high[0], low[1] : high[1], low[2] : high[2]] == value).astype(np.float64) + low
    return PointCloud(index_to_world(image, kji[:, ::-1]), float(np.prod(image.GetSpacing())) / 1000.0)


def subsample(cloud: PointCloud, limit: int, seed: int = 0) -> PointCloud:
    """At most ``limit`` points of ``cloud`` chosen at random (reproducibly), each standing for more volume."""
    if len(cloud.points) <= limit:
        return cloud
    chosen = np.random.default_rng(seed).choice(len(cloud.points), limit, replace=False)
    return PointCloud(cloud.points[np.sort(chosen)], cloud.volume_ml / limit)


_FACE_NAMES = {(0, 1): "left", (0, -1): "right", (1, 1): "posterior", (1, -1): "anterior", (2, 1): "top", (2, -1): "bottom"}


def cut_faces(image: sitk.Image, array: np.ndarray, value: int) -> list[str]:
    """Which sides of the field of view (patient directions) label ``value`` touches: a structure cut by the
    scan's edges."""
    direction = np.array(image.GetDirection(), np.float64).reshape(3, 3)
    faces = []
    for axis_zyx in range(3):
        axis_ijk = 2 - axis_zyx
        world = direction[:, axis_ijk]
        dominant = int(np.argmax(np.abs(world)))
        for end, sign in ((0, -1), (array.shape[axis_zyx] - 1, 1)):
            if np.any(np.take(array, end, axis=axis_zyx) == value):
                faces.append(_FACE_NAMES[(dominant, int(np.sign(world[dominant]) * sign))])
    return sorted(set(faces))

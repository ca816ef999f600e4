"""The hip-bone reference frame: origin, patient-aligned axes and a scale, built from the hip bones alone.

Construction (see docs/hip-frame.md for the figure):

1. Origin: the midpoint of the two hip bones' centroids.
2. x (towards the patient's left): from the right hip bone's centroid to the left one's.
3. z (superior): the direction, perpendicular to x, in which the two hip bones together extend most (their
   principal axis of inertia within the mid-sagittal plane: iliac crests above, ischial tuberosities below),
   signed to point towards the scanner's head end.
4. y (posterior) = z x x, so that (x, y, z) is right-handed and ordered like LPS.
5. Scale: the distance between the two centroids (about 150-170 mm in adults).

Every step uses moments of the masks, which turn with the patient: the frame is the same anatomy whatever
the pose, the voxel size or the direction matrix. The scanner's axes are only used to choose signs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sacral_tumor_ai.hipframe.points import PointCloud

AXIS_NAMES = ("left", "posterior", "superior")


@dataclass(frozen=True)
class HipFrame:
    """``axes`` rows are the frame's x (left), y (posterior), z (superior) unit vectors in world LPS."""

    origin: np.ndarray
    axes: np.ndarray
    scale_mm: float
    quality: str = "good"  # "good" or "reduced" (see warnings)
    warnings: tuple[str, ...] = field(default=())

    def to_frame(self, world: np.ndarray) -> np.ndarray:
        """Frame coordinates (mm) of world LPS points (n, 3) or one point (3,)."""
        return (np.asarray(world, np.float64) - self.origin) @ self.axes.T

    def to_world(self, coordinates: np.ndarray) -> np.ndarray:
        return self.origin + np.asarray(coordinates, np.float64) @ self.axes

    @classmethod
    def from_json(cls, data: dict) -> HipFrame:
        """The frame back from :meth:`to_json`'s dict (``location["frame"]`` of a result)."""
        axes = np.array([data["axes_world_lps"][name] for name in AXIS_NAMES], np.float64)
        return cls(np.array(data["origin_world_lps_mm"], np.float64), axes, float(data["scale_mm"]), data.get("quality", "good"))

    def to_json(self) -> dict:
        return {
            "origin_world_lps_mm": _rounded(self.origin),
            "axes_world_lps": {name: _rounded(axis, 5) for name, axis in zip(AXIS_NAMES, self.axes)},
            "scale_mm": round(float(self.scale_mm), 2),
            "quality": self.quality,
        }


def _rounded(values: np.ndarray, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def _weighted(clouds: list[PointCloud]) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate([c.points for c in clouds if c])
    weights = np.concatenate([np.full(len(c.points), c.point_ml) for c in clouds if c])
    return points, weights


def frame_from_hip_bones(left: list[PointCloud], right: list[PointCloud]) -> HipFrame:
    """The frame of the left and right hip bones (each given as one or more point clouds, for example the
    bone and the part of a tumour that replaced it)."""
    left_points, left_weights = _weighted(left)
    right_points, right_weights = _weighted(right)
    left_centre = np.average(left_points, axis=0, weights=left_weights)
    right_centre = np.average(right_points, axis=0, weights=right_weights)
    origin = (left_centre + right_centre) / 2
    x = left_centre - right_centre
    scale = float(np.linalg.norm(x))
    x /= scale
    points = np.concatenate([left_points, right_points]) - origin
    weights = np.concatenate([left_weights, right_weights])
    covariance = (points * weights[:, None]).T @ points / weights.sum()
    across = np.eye(3) - np.outer(x, x)
    values, vectors = np.linalg.eigh(across @ covariance @ across)
    z = vectors[:, int(np.argmax(values))]
    if z[2] < 0:  # towards the scanner's head end (LPS +z)
        z = -z
    y = np.cross(z, x)
    return HipFrame(origin, np.stack([x, y, z]), scale)

"""The patient's pose in the scanner: a rotation (up to +-20 degrees per axis) and a translation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    rotation: np.ndarray  # 3 x 3, patient frame -> scanner frame
    translation: np.ndarray  # mm, the patient origin in scanner coordinates

    @classmethod
    def sample(cls, rng: np.random.Generator, max_degrees: float = 20.0, max_shift_mm: float = 20.0) -> Pose:
        angles = np.radians(rng.uniform(-max_degrees, max_degrees, 3))
        cx, cy, cz = np.cos(angles)
        sx, sy, sz = np.sin(angles)
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        return cls(rz @ ry @ rx, rng.uniform(-max_shift_mm, max_shift_mm, 3))

    @classmethod
    def identity(cls) -> Pose:
        return cls(np.eye(3), np.zeros(3))

    def to_patient(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scanner coordinates -> patient coordinates (float32 arrays)."""
        r = self.rotation.T.astype(np.float32)
        dx, dy, dz = (x - np.float32(self.translation[0]), y - np.float32(self.translation[1]), z - np.float32(self.translation[2]))
        return (r[0, 0] * dx + r[0, 1] * dy + r[0, 2] * dz, r[1, 0] * dx + r[1, 1] * dy + r[1, 2] * dz, r[2, 0] * dx + r[2, 1] * dy + r[2, 2] * dz)

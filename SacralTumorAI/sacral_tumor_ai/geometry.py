"""Image geometry: orientation codes, orthogonality and the LPS (ITK, files) <-> RAS (Slicer) matrices.

Files and SimpleITK use LPS physical coordinates; Slicer uses RAS. The two differ by the sign of the first two
axes, ``RAS = diag(-1, -1, 1) @ LPS``. Every conversion goes through :func:`ijk_to_ras` and
:func:`geometry_from_ijk_to_ras` so that it is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Geometry:
    """The physical placement of a 3D voxel grid (LPS, as in files and SimpleITK)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]  # 9 values, row-major, columns are the voxel axes

    @classmethod
    def of(cls, image: sitk.Image) -> Geometry:
        return cls(
            tuple(int(v) for v in image.GetSize()),
            tuple(float(v) for v in image.GetSpacing()),
            tuple(float(v) for v in image.GetOrigin()),
            tuple(float(v) for v in image.GetDirection()),
        )

    def apply_to(self, image: sitk.Image) -> None:
        """Give ``image`` (of the same size) this geometry."""
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)

    def orientation(self) -> str:
        """Three-letter ITK orientation code, e.g. ``LPS`` for the identity direction."""
        return orientation_code(self.direction)


def orientation_code(direction: tuple[float, ...] | list[float]) -> str:
    """ITK/DICOM orientation code of a direction matrix (closest axis-aligned orientation)."""
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines([float(v) for v in direction])


def direction_matrix(image_or_direction: sitk.Image | tuple[float, ...]) -> np.ndarray:
    """The 3 x 3 direction matrix (columns = voxel axes in LPS)."""
    values = (
        image_or_direction.GetDirection()
        if isinstance(image_or_direction, sitk.Image)
        else image_or_direction
    )
    return np.asarray(values, dtype=float).reshape(3, 3)


def orthonormality_error(direction: tuple[float, ...] | np.ndarray) -> float:
    """Largest deviation of ``D^T D`` from the identity; 0 for a proper direction matrix."""
    matrix = np.asarray(direction, dtype=float).reshape(3, 3)
    return float(np.abs(matrix.T @ matrix - np.eye(3)).max())


def ijk_to_ras(image: sitk.Image) -> np.ndarray:
    """The 4 x 4 voxel-index -> RAS matrix that Slicer's volume nodes hold."""
    matrix = np.eye(4)
    matrix[:3, :3] = LPS_TO_RAS @ direction_matrix(image) @ np.diag(image.GetSpacing())
    matrix[:3, 3] = LPS_TO_RAS @ np.asarray(image.GetOrigin(), dtype=float)
    return matrix


def geometry_from_ijk_to_ras(matrix: np.ndarray, size: tuple[int, int, int]) -> Geometry:
    """Inverse of :func:`ijk_to_ras`: spacing, origin and direction (LPS) from a voxel -> RAS matrix."""
    matrix = np.asarray(matrix, dtype=float)
    lps_axes = LPS_TO_RAS @ matrix[:3, :3]
    spacing = np.linalg.norm(lps_axes, axis=0)
    direction = lps_axes / spacing
    origin = LPS_TO_RAS @ matrix[:3, 3]
    return Geometry(
        tuple(int(v) for v in size),
        tuple(float(v) for v in spacing),
        tuple(float(v) for v in origin),
        tuple(float(v) for v in direction.ravel()),
    )


def geometry_difference(a: sitk.Image, b: sitk.Image) -> float:
    """Largest absolute difference in spacing, origin or direction; ``inf`` if the sizes differ."""
    if a.GetSize() != b.GetSize():
        return float("inf")
    return float(
        max(
            np.abs(np.subtract(a.GetSpacing(), b.GetSpacing())).max(),
            np.abs(np.subtract(a.GetOrigin(), b.GetOrigin())).max(),
            np.abs(np.subtract(a.GetDirection(), b.GetDirection())).max(),
        )
    )


def physical_extent_mm(image: sitk.Image) -> tuple[float, float, float]:
    """Field of view along each voxel axis, in mm."""
    return tuple(float(n * s) for n, s in zip(image.GetSize(), image.GetSpacing()))


def label_boxes(labelmap: sitk.Image) -> dict[int, tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """Each non-zero label value present -> its bounding box as (start, size) in i-j-k voxel indices, from
    ITK's label statistics (no boolean copy of a big labelmap per label)."""
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(labelmap)
    boxes = {}
    for value in statistics.GetLabels():
        box = statistics.GetBoundingBox(value)  # i, j, k start, then sizes
        boxes[int(value)] = (tuple(box[:3]), tuple(box[3:]))
    return boxes


def index_range_in(target: sitk.Image, source: sitk.Image, low, high) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest continuous indices (i-j-k) in ``target`` of the box between continuous indices
    ``low`` and ``high`` (i-j-k) of ``source``: its eight corners mapped through physical space."""
    corners = [
        target.TransformPhysicalPointToContinuousIndex(
            source.TransformContinuousIndexToPhysicalPoint([float(high[a] if (c >> a) & 1 else low[a]) for a in range(3)])
        )
        for c in range(8)
    ]
    return np.min(corners, axis=0), np.max(corners, axis=0)

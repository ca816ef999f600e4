"""A classical, no-weights hip-bone method: threshold, separate at the joints, name the parts.

1. Bone = voxels above 180 HU, plus the holes inside it (slice by slice) whose mean is above 70 HU
   (cancellous bone inside the cortex, not the pelvic cavity inside the pelvic ring), on a 2 mm grid. 2. One erosion opens the joint spaces (hip joints, SI joints, L5/S1 disc) so that femora, hip bones,
   sacrum and lumbar spine become separate components. 3. Components are named by position relative to the
   body's midline: the two largest lateral components reaching above the femoral heads are the hip bones
   (left on the patient's left), the lowest midline component under them is the sacrum. 4. The named
   components grow back into the bone mask (geodesic dilation) and the labels return to the input grid.
A measured baseline; it fails where the joints are fused or destroyed, which the model need not.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM
from sacral_tumor_ai.resample import resample_like

BONE_HU = 180.0
MARROW_HU = 70.0  # cancellous bone is denser than muscle, fat, bowel and bladder
WORK_SPACING_MM = 2.0
MIN_PART_ML = 15.0


def _working_grid(ct: sitk.Image) -> sitk.Image:
    """An axis-aligned LPS grid at 2 mm over the scan (left = +x, posterior = +y, superior = +z)."""
    from sacral_tumor_ai.ctseg.preprocess import Region, model_grid

    return model_grid(ct, Region((0, 0, 0), ct.GetSize()), (WORK_SPACING_MM,) * 3)


def _fill_slices(mask: np.ndarray, hu: np.ndarray) -> np.ndarray:
    """Fill, slice by slice, the holes of ``mask`` that are cancellous bone (mean HU above
    ``MARROW_HU``), not the pelvic cavity that the closed pelvic ring also encloses."""
    filled = mask.copy()
    for k in range(mask.shape[0]):
        holes, count = ndimage.label(ndimage.binary_fill_holes(mask[k]) & ~mask[k])
        if count:
            means = ndimage.mean(hu[k], holes, range(1, count + 1))
            filled[k] |= np.isin(holes, 1 + np.flatnonzero(np.asarray(means) > MARROW_HU))
    return filled


def _name_parts(components: np.ndarray, count: int, midline_x: float) -> dict[int, int]:
    """Component number -> label value (hip_left, hip_right, sacrum)."""
    voxel_ml = WORK_SPACING_MM**3 / 1000.0
    index = range(1, count + 1)
    sizes = ndimage.sum_labels(np.ones_like(components), components, index) * voxel_ml
    centres = ndimage.center_of_mass(np.ones_like(components), components, index)  # z, y, x
    boxes = ndimage.find_objects(components)
    parts = [(i + 1, sizes[i], centres[i], boxes[i]) for i in range(count) if sizes[i] >= MIN_PART_ML and boxes[i] is not None]
    names: dict[int, int] = {}
    for side, value in ((1, HIP_LEFT.value), (-1, HIP_RIGHT.value)):
        lateral = [p for p in parts if side * (p[2][2] - midline_x) > 25 / WORK_SPACING_MM]
        # A hip bone reaches higher than a femur: take the lateral part whose top is highest, then largest.
        lateral.sort(key=lambda p: (p[3][0].stop, p[1]), reverse=True)
        if lateral:
            names[lateral[0][0]] = value
    hips = [p for p in parts if p[0] in names]
    if hips:
        hip_top = max(p[3][0].stop for p in hips)
        hip_bottom = min(p[3][0].start for p in hips)
        midline = [p for p in parts if abs(p[2][2] - midline_x) < 30 / WORK_SPACING_MM and p[0] not in names and hip_bottom <= p[2][0] <= hip_top]
        if midline:
            names[min(midline, key=lambda p: p[2][0])[0]] = SACRUM.value  # the lowest midline part among the hips
    return names


def classical_bone_labels(ct: sitk.Image) -> sitk.Image:
    """Labels hip_left, hip_right and sacrum of a CT, on the CT's own grid (uint8, zero elsewhere)."""
    grid = _working_grid(ct)
    hu = sitk.GetArrayFromImage(resample_like(ct, grid, default_value=-1024.0))
    bone = _fill_slices(hu > BONE_HU, hu)
    body = hu > -500
    midline_x = float(np.argwhere(body)[:, 2].mean()) if body.any() else hu.shape[2] / 2
    core = ndimage.binary_erosion(bone, iterations=1)
    components, count = ndimage.label(core)
    names = _name_parts(components, count, midline_x)
    seeds = np.zeros(hu.shape, np.uint8)
    for component, value in names.items():
        seeds[components == component] = value
    # Grow the named parts back into the bone they came from (nearest named seed wins).
    _, nearest = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    grown = seeds[tuple(nearest)]
    reach = ndimage.binary_dilation(seeds > 0, iterations=2)
    labels = np.where(bone & reach, grown, 0).astype(np.uint8)
    labelmap = sitk.GetImageFromArray(labels)
    labelmap.CopyInformation(grid)
    return resample_like(labelmap, ct, label=True)

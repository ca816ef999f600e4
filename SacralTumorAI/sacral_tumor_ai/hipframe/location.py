"""Where a tumour is, relative to the hip bones: ``describe_location(labelmap)`` -> a JSON-ready dict.

Feature table (all lengths in mm along the hip frame's axes x = patient left, y = posterior, z = superior,
unless named otherwise; "_scaled" values are divided by the frame's scale and have no unit):

=============================  =====================================================================
available, reason              whether the frame could be built; if not, why (and no numbers follow)
volume_ml                      tumour volume (mL)
centroid_frame                 tumour centroid [x, y, z] (mm); centroid_scaled the same / scale
extent_frame                   min, max and size [x, y, z] (mm) of the tumour
fraction_left, laterality      share of the tumour volume left of the mid-sagittal plane; "left",
                               "right" (>= 90 % on one side) or "bilateral"
midline_distance_mm            |x| of the centroid; crosses_midline: the tumour spans x = 0
si_joint_distance_mm           per side: from the centroid, and from the tumour's nearest point, to
                               the sacroiliac joint (hip bone within 6 mm of the sacrum); null without
                               a sacrum
crosses_si_joint               per side: >= 5 % of the tumour in the sacrum and in that hip bone, and
                               the tumour reaches the joint
structure_fractions            share of the tumour nearest to each bone (within 15 mm) or soft_tissue
enneking_zones, zone_fractions zones I-IV holding >= 5 % of the tumour's bone part (see zones.py)
sacral_levels                  S1-S5 holding >= 5 % of the tumour's sacral part
seed1_offsets_mm               seed 1's dx, dy, dz: centroid minus the right-anterior-inferior corner
                               of the box around both hip bones, along the scanner's L, P, S axes
frame_box_offsets_mm           the same with the box and axes of the hip frame (pose-independent)
acetabula                      each acetabular centre (frame mm), its filter score and whether found
frame                          origin (world LPS mm), axes, scale_mm, quality, warnings
=============================  =====================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy.spatial import cKDTree

from sacral_tumor_ai.hipframe.acetabulum import find_acetabulum
from sacral_tumor_ai.hipframe.frame import AXIS_NAMES, HipFrame, frame_from_hip_bones
from sacral_tumor_ai.hipframe.points import PointCloud, cut_faces, fine_structure_points, sampled, strides_for, structure_points, subsample
from sacral_tumor_ai.hipframe.zones import ASSIGN_MM, MIN_SHARE, zones_of
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR

MIN_HIP_ML = 20.0  # less than this is not a hip bone the frame can stand on
MAX_VOLUME_RATIO = 1.3  # hip bones differing more than this are flagged (destroyed, missing, cut)
# The SI joint: hip-bone points near the sacrum, within the widest normal joint space (2-5 mm in adults) plus
# two steps between sampled points (each surface lies up to half a step from its points, and a segmentation's
# boundary may be a voxel off on each side). A fixed 6 mm found neither joint of the bundled model's
# segmentation of the 3 mm real CT (its hip bones lie 6 and 9.5 mm from the sacrum, voxel centre to centre).
SI_JOINT_MM = 5.0
MAX_TUMOUR_POINTS = 8000  # enough for shares to about 1 %
BONES = ("hip_left", "hip_right", "sacrum")


def unavailable(reason: str) -> dict[str, Any]:
    """The location result when no frame can be built: explicit, with no invented numbers."""
    return {"available": False, "reason": reason, "units": "mm", "centroid_frame": None, "enneking_zones": [], "sacral_levels": []}


def _nearest_structure(tumour: np.ndarray, bones: dict[str, PointCloud]) -> np.ndarray:
    distances = {name: cKDTree(cloud.points).query(tumour, distance_upper_bound=ASSIGN_MM)[0] if cloud else np.full(len(tumour), np.inf) for name, cloud in bones.items()}
    stacked = np.stack([distances[name] for name in BONES])
    nearest = np.asarray(BONES, dtype=object)[np.argmin(stacked, axis=0)]
    structure = np.where(stacked.min(axis=0) <= ASSIGN_MM, nearest, "soft_tissue").astype(str)
    return structure


def _frame_warnings(labelmap: sitk.Image, array: np.ndarray, left: float, right: float, frame: HipFrame) -> list[str]:
    warnings = []
    ratio = max(left, right) / min(left, right)
    if ratio > MAX_VOLUME_RATIO:
        smaller = "left" if left < right else "right"
        warnings.append(
            f"The hip bones differ in volume by {100 * (ratio - 1):.0f}% (the {smaller} one is smaller): it may be partly destroyed, "
            "missing from the mask or cut by the field of view, so the frame's axes may be tilted by a few degrees."
        )
    for label in (HIP_LEFT, HIP_RIGHT):
        faces = cut_faces(labelmap, array, label.value)
        if faces:
            warnings.append(f"The {label.display_name.lower()} touches the {' and '.join(faces)} edge of the scan: the pelvis is cut by the field of view, which shifts the frame towards the part in view.")
    if frame.axes[0][0] < 0:
        warnings.append("The left hip bone lies on the patient's right according to the scan's direction matrix: the labels or the direction matrix are mirrored. The frame follows the labels.")
    return warnings


def _si_joint(hip: PointCloud, sacrum_tree: cKDTree | None, reach_mm: float) -> np.ndarray | None:
    if sacrum_tree is None or not hip:
        return None
    distance, _ = sacrum_tree.query(hip.points, distance_upper_bound=reach_mm)
    joint = hip.points[np.isfinite(distance)]
    return joint if len(joint) else None


def _replaced_si_joint(bones: dict[str, PointCloud], tumour: PointCloud, structure: np.ndarray, name: str, reach_mm: float) -> np.ndarray | None:
    """The SI joint of hip bone ``name`` where a tumour has replaced all of it: where the tumour's part that
    took the hip bone's place meets its part that took the sacrum's (each bone with its part, as the frame
    counts them); None if they do not meet."""
    hip = PointCloud(np.concatenate([bones[name].points, tumour.points[structure == name]]), tumour.point_ml)
    sacrum = np.concatenate([bones["sacrum"].points, tumour.points[structure == "sacrum"]])
    return _si_joint(hip, cKDTree(sacrum), reach_mm)


def _si_joint_features(bones: dict[str, PointCloud], tumour: PointCloud, centroid: np.ndarray, structure: np.ndarray, step_mm: float) -> tuple[dict, dict]:
    """Per side ("left", "right"): distances from the tumour's centroid and nearest point to the SI joint,
    and whether the tumour crosses it; None for a side without a joint (no sacrum, or no hip bone near it, nor
    a tumour that replaced the joint).
    ``step_mm``: the largest step between the bones' sampled points."""
    reach = SI_JOINT_MM + 2 * step_mm
    sacrum_tree = cKDTree(bones["sacrum"].points) if bones["sacrum"] else None
    distances, crosses = {}, {}
    for name in ("hip_left", "hip_right"):
        joint = _si_joint(bones[name], sacrum_tree, reach)
        if joint is None and sacrum_tree is not None:
            joint = _replaced_si_joint(bones, tumour, structure, name, reach)
        side = name.split("_")[1]
        if joint is None:
            distances[side], crosses[side] = None, None
            continue
        joint_tree = cKDTree(joint)
        edge = float(joint_tree.query(tumour.points)[0].min())
        distances[side] = {"centroid": round(float(joint_tree.query(centroid)[0]), 2), "edge": round(edge, 2)}
        crosses[side] = bool(np.mean(structure == "sacrum") >= MIN_SHARE and np.mean(structure == name) >= MIN_SHARE and edge <= 5.0)
    return distances, crosses


def _box_offsets(centroid: np.ndarray, hip_points: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in centroid - hip_points.min(axis=0)]


def describe_location(labelmap: sitk.Image) -> dict[str, Any]:
    """Tumour location features in the hip frame (see the module's table) from a labelmap with the project's
    label values (tumour 1, left hip 2, right hip 3, sacrum 4)."""
    array = sitk.GetArrayViewFromImage(labelmap)
    strides = strides_for(labelmap)
    coarse = sampled(array, strides)
    tumour_all = fine_structure_points(labelmap, array, TUMOR.value, coarse, strides)
    if not tumour_all:
        return unavailable("The tumour mask is empty: there is nothing to locate.")
    bones = {name: structure_points(labelmap, coarse, label.value, strides) for name, label in zip(BONES, (HIP_LEFT, HIP_RIGHT, SACRUM))}
    for name, label in (("hip_left", HIP_LEFT), ("hip_right", HIP_RIGHT)):
        if bones[name].volume_ml < MIN_HIP_ML:
            return unavailable(f"The {label.display_name.lower()} is missing or too small ({bones[name].volume_ml:.0f} mL): the hip frame needs both hip bones.")
    tumour = subsample(tumour_all, MAX_TUMOUR_POINTS)
    structure = _nearest_structure(tumour.points, bones)

    def side(name: str) -> list[PointCloud]:  # the bone plus the tumour that took its place
        return [bones[name], PointCloud(tumour.points[structure == name], tumour.point_ml)]

    frame = frame_from_hip_bones(side("hip_left"), side("hip_right"))
    volumes = [sum(c.volume_ml for c in side(name)) for name in ("hip_left", "hip_right")]
    warnings = _frame_warnings(labelmap, array, *volumes, frame)
    acetabula = {}
    for name, label, sign in (("hip_left", HIP_LEFT, 1), ("hip_right", HIP_RIGHT, -1)):
        acetabula[name] = find_acetabulum(labelmap, label.value, frame, sign)
        if not acetabula[name].found:
            warnings.append(f"The {label.display_name.lower()}'s acetabulum was not recognised (destroyed or out of view): zone II is judged from its typical position.")
    sacrum = bones["sacrum"]
    sacrum_z = None
    if sacrum:
        sacrum_frame = frame.to_frame(sacrum.points)
        sacrum_z = (float(sacrum_frame[:, 2].min()), float(sacrum_frame[:, 2].max()))
        if cut_faces(labelmap, array, SACRUM.value):
            warnings.append("The sacrum is cut by the field of view: sacral levels are counted on the part in view.")
    else:
        warnings.append("There is no sacrum in the segmentation: zone IV and sacral levels cannot be judged.")

    points = frame.to_frame(tumour_all.points)
    centroid = points.mean(axis=0)
    sample = frame.to_frame(tumour.points)
    zone_result = zones_of(structure, sample, {k: v.centre for k, v in acetabula.items()}, frame.scale_mm, sacrum_z)
    fraction_left = float(np.mean(points[:, 0] > 0))
    step_mm = float(max(np.multiply(strides, labelmap.GetSpacing())))
    si_distance, crosses_si = _si_joint_features(bones, tumour, tumour_all.centroid, structure, step_mm)
    hip_world = np.concatenate([bones["hip_left"].points, bones["hip_right"].points])
    if frame.quality == "good" and warnings:
        frame = HipFrame(frame.origin, frame.axes, frame.scale_mm, "reduced", tuple(warnings))
    return {
        "available": True,
        "reason": None,
        "units": "mm",
        "axes": dict(zip("xyz", AXIS_NAMES)),
        "volume_ml": round(tumour_all.volume_ml, 2),
        "centroid_frame": _round(centroid),
        "centroid_scaled": _round(centroid / frame.scale_mm, 4),
        "extent_frame": {"min": _round(points.min(axis=0)), "max": _round(points.max(axis=0)), "size": _round(np.ptp(points, axis=0))},
        "fraction_left": round(fraction_left, 4),
        "laterality": "left" if fraction_left >= 0.9 else "right" if fraction_left <= 0.1 else "bilateral",
        "midline_distance_mm": round(abs(float(centroid[0])), 2),
        "crosses_midline": bool(points[:, 0].min() < 0 < points[:, 0].max()),
        "si_joint_distance_mm": si_distance,
        "crosses_si_joint": crosses_si,
        "structure_fractions": {name: round(float(np.mean(structure == name)), 4) for name in (*BONES, "soft_tissue")},
        "enneking_zones": zone_result.zones,
        "zone_fractions": zone_result.zone_fractions,
        "sacral_levels": zone_result.sacral_levels,
        "sacral_level_fractions": zone_result.sacral_level_fractions,
        "seed1_offsets_mm": _box_offsets(tumour_all.centroid, hip_world),
        "frame_box_offsets_mm": _box_offsets(centroid, frame.to_frame(hip_world)),
        "acetabula": {name: {"centre_frame": _round(a.centre), "score": round(a.score, 3), "found": a.found} for name, a in acetabula.items()},
        "frame": frame.to_json(),
        "quality": frame.quality,
        "warnings": list(frame.warnings),
    }


def _round(values: np.ndarray, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]

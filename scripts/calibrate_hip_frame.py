"""Measure, on generated pelvises, the constants the hip frame's zones use (relative to the frame's scale):
where the acetabular centres and the femoral heads sit, and how large Enneking zone II is.

    .venv/bin/python scripts/calibrate_hip_frame.py --cases 40

The printed values are the defaults in sacral_tumor_ai/hipframe/anatomy_template.py.
"""

from __future__ import annotations

import argparse

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.hipframe.frame import frame_from_hip_bones
from sacral_tumor_ai.hipframe.points import sampled, strides_for, structure_points
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT
from sacral_tumor_ai.phantom.case import ScanSettings, case_patient, generate_case
from sacral_tumor_ai.phantom.tumours import PERIACETABULAR_RADIUS_MM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seed", type=int, default=901)
    args = parser.parse_args()
    settings = ScanSettings(size=(200, 200, 170), in_plane_mm=(2.0, 2.0), slice_mm=(2.0, 2.0))
    rows = []
    for index in range(args.cases):
        case = generate_case(args.seed, index, settings)
        patient = case_patient(args.seed, index, settings)
        strides = strides_for(case.labelmap)
        array = sampled(sitk.GetArrayViewFromImage(case.labelmap), strides)
        left = structure_points(case.labelmap, array, HIP_LEFT.value, strides)
        right = structure_points(case.labelmap, array, HIP_RIGHT.value, strides)
        frame = frame_from_hip_bones([left], [right])
        rotation, translation = patient.pose.rotation, patient.pose.translation
        acetabulum = np.array(patient.pelvis.acetabulum)
        world_acetabulum = rotation @ acetabulum + translation
        in_frame = frame.to_frame(world_acetabulum) / frame.scale_mm
        angles = [np.degrees(np.arccos(np.clip(frame.axes[a] @ rotation[:, a], -1, 1))) for a in range(3)]
        rows.append([*in_frame, patient.pelvis.femoral_head / frame.scale_mm, PERIACETABULAR_RADIUS_MM * patient.pelvis.scale / frame.scale_mm, frame.scale_mm, *angles])
    rows = np.array(rows)
    names = ["acetabulum_x", "acetabulum_y", "acetabulum_z", "femoral_head_radius", "zone_ii_radius", "scale_mm", "angle_x_deg", "angle_y_deg", "angle_z_deg"]
    for name, column in zip(names, rows.T):
        print(f"{name:20s} mean {column.mean():8.4f}  sd {column.std():7.4f}  min {column.min():8.4f}  max {column.max():8.4f}")


if __name__ == "__main__":
    main()

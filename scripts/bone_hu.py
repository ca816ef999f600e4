"""Hip-bone HU of generated CTs at a given voxel size, beside a real CT's (docs/data-engine.md's table).

    .venv/bin/python scripts/bone_hu.py [--seed 31 --cases 8 --voxel-mm 3] [--real CT LABELMAP]

Per patient: the median HU of the hip-bone voxels, the median of the outermost hip-bone voxels (those with a
non-bone 6-neighbour) and the 90th percentile; printed as the median over patients. A real CT has no labels:
pass the labelmap `sacral-tumor-ai run` drew on it (values as result.json's `labels`).
"""

from __future__ import annotations

import argparse

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT
from sacral_tumor_ai.phantom.case import GENERATOR_VERSION, ScanSettings, generate_case


def hip_bone_hu(image: sitk.Image, labelmap: sitk.Image) -> tuple[float, float, float]:
    """(median, median of the outermost voxels, 90th percentile) of the hip bones' HU."""
    hu = sitk.GetArrayFromImage(image)
    hip = np.isin(sitk.GetArrayFromImage(labelmap), (HIP_LEFT.value, HIP_RIGHT.value))
    outer = hip & ~ndimage.binary_erosion(hip)
    return float(np.median(hu[hip])), float(np.median(hu[outer])), float(np.percentile(hu[hip], 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--voxel-mm", type=float, default=3.0)
    parser.add_argument("--real", nargs=2, metavar=("CT", "LABELMAP"))
    args = parser.parse_args()
    if args.real:
        print("real CT:", np.round(hip_bone_hu(sitk.ReadImage(args.real[0]), sitk.ReadImage(args.real[1]))))
    voxel = (args.voxel_mm, args.voxel_mm)
    settings = ScanSettings(in_plane_mm=voxel, slice_mm=voxel)
    rows = [hip_bone_hu(c.image, c.labelmap) for c in (generate_case(args.seed, i, settings) for i in range(args.cases))]
    print(f"generator {GENERATOR_VERSION}, {args.cases} patients:", np.round(np.median(np.array(rows), axis=0)))


if __name__ == "__main__":
    main()

"""Hip frame and location features on a 512 x 512 x 300 labelmap (target: under 1 s on the 2-core CPU).

A generated pelvis with a tumour crossing the left sacroiliac joint, resampled to 512 x 512 x 300 voxels
(0.78 x 0.70 x 1.1 mm) and turned 15 degrees, as a segmentation of a thin-slice pelvic CT would be. Prints
the median of several runs, the ratio to the target, and the stages' share.

    .venv/bin/python benchmarks/bench_hip_frame.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np
import SimpleITK as sitk

from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.phantom.known import pelvis_labelmap

TARGET_S = 1.0


def thin_slice_labelmap(size: tuple[int, int, int] = (512, 512, 300)) -> sitk.Image:
    pelvis = pelvis_labelmap(3)[1]
    coarse, _ = pelvis_labelmap(3, [(pelvis.sacrum_half_width * 0.85, 25.0, pelvis.sacrum_top - 25.0, 30.0)])
    angle = np.radians(15.0)
    turned = sitk.Image(coarse)
    turned.SetDirection((np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle), 0, 0, 0, 1))
    reference = sitk.Image(list(size), sitk.sitkUInt8)
    reference.SetSpacing((400 / size[0], 360 / size[1], 330 / size[2]))
    reference.SetOrigin((-200.0, -180.0, -185.0))
    return sitk.Resample(turned, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    labelmap = thin_slice_labelmap()
    describe_location(labelmap)  # warm-up (imports, caches)
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        location = describe_location(labelmap)
        times.append(time.perf_counter() - started)
    median = float(np.median(times))
    print(f"labelmap        {labelmap.GetSize()} voxels, spacing {tuple(round(s, 2) for s in labelmap.GetSpacing())} mm")
    print(f"zones           {location['enneking_zones']} levels {location['sacral_levels']} quality {location['quality']}")
    print(f"time (median)   {median:.3f} s over {args.repeats} runs; target {TARGET_S:.1f} s; time / target = {median / TARGET_S:.2f}")
    profile = cProfile.Profile()
    profile.runcall(describe_location, labelmap)
    stats = pstats.Stats(profile)
    total = stats.total_tt
    print("largest stages (cumulative s):")
    for (file, _, name), (_, _, _, cumulative, _) in sorted(stats.stats.items(), key=lambda item: -item[1][3])[:40]:
        if "hipframe" in file and name not in ("describe_location",):
            print(f"  {name:28s} {cumulative:.3f} s ({100 * cumulative / total:.0f}%)")


if __name__ == "__main__":
    main()

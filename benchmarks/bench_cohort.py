"""Cohort generation throughput: CT cases of 256 x 256 x 96 voxels per minute (target >= 30 on the 2-core
machine), written as NIfTI like the cohort command does; then MRI studies (four sequences, 256 x 256 x 40 on
the T2-w grid) per minute; and the peak memory. Cases with hip prostheses (metal streaks, about one in nine)
cost more: two are timed apart, and the throughput is also given at the generator's prevalence.

    .venv/bin/python benchmarks/bench_cohort.py [--cases 10] [--mri-cases 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import peak_rss_gb  # noqa: E402

from sacral_tumor_ai.io import write_image  # noqa: E402
from sacral_tumor_ai.phantom.case import ScanSettings, first_cases, generate_case  # noqa: E402
from sacral_tumor_ai.phantom.implants import PREVALENCE  # noqa: E402
from sacral_tumor_ai.phantom.mri import generate_mri_case  # noqa: E402


def mri_seconds_per_case(cases: int, folder: Path) -> float:
    """Mean seconds to generate and write one four-sequence MRI study (coarse and fine labels included)."""
    from sacral_tumor_ai.phantom.mri_cohort import _write_mri_case

    settings = ScanSettings(size=(256, 256, 40), slice_mm=(3.0, 5.0))
    start = time.perf_counter()
    for index in range(cases):
        _write_mri_case(folder, generate_mri_case(1, index, settings), montage=False)
    return (time.perf_counter() - start) / cases


def ct_case_seconds(index: int, settings: ScanSettings, folder: Path) -> tuple[float, float, bool]:
    """(seconds generating, seconds writing NIfTI, whether it has a hip prosthesis) for case ``index`` of seed 1."""
    start = time.perf_counter()
    case = generate_case(1, index, settings)
    middle = time.perf_counter()
    write_image(case.image, folder / f"{case.case_id}_ct.nii.gz")
    write_image(case.labelmap, folder / f"{case.case_id}.nii.gz")
    return middle - start, time.perf_counter() - middle, bool(case.details["hip_prostheses"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--mri-cases", type=int, default=3)
    args = parser.parse_args()
    settings = ScanSettings(size=(256, 256, 96))
    generate_case(0, 0, settings)  # warm-up: imports and first allocations
    with tempfile.TemporaryDirectory() as folder:
        runs = [ct_case_seconds(index, settings, Path(folder)) for index in range(args.cases)]
        metal_runs = [ct_case_seconds(index, settings, Path(folder)) for index in first_cases(1, 2, settings)]
        mri = mri_seconds_per_case(args.mri_cases, Path(folder)) if args.mri_cases else 0.0
    generating = sum(run[0] for run in runs) / len(runs)
    writing = sum(run[1] for run in runs) / len(runs)
    per_minute = 60 / (generating + writing)
    print(f"{args.cases} CT cases of 256 x 256 x 96 voxels ({sum(run[2] for run in runs)} with a hip prosthesis): {generating + writing:.2f} s per case "
          f"({generating:.2f} s generating, {writing:.2f} s writing NIfTI)")
    print(f"throughput: {per_minute:.1f} cases per minute (target >= 30: {'met' if per_minute >= 30 else 'NOT met'})")
    plain = [sum(run[:2]) for run in runs + metal_runs if not run[2]]
    metal = [sum(run[:2]) for run in runs + metal_runs if run[2]]
    mixed = 60 / ((1 - PREVALENCE) * np.mean(plain) + PREVALENCE * np.mean(metal))
    print(f"without prostheses {np.mean(plain):.2f} s per case, with {np.mean(metal):.2f} s ({len(metal)} cases); at the generator's "
          f"{PREVALENCE:.0%} prevalence: {mixed:.1f} cases per minute (target >= 30: {'met' if mixed >= 30 else 'NOT met'})")
    if args.mri_cases:
        print(f"{args.mri_cases} MRI studies (T1-w, T2-w, DWI, CET1-w; 256 x 256 x 40): {mri:.2f} s per study "
              f"({60 / mri:.1f} per minute)")
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()

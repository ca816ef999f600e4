"""Cohort generation throughput: CT cases of 256 x 256 x 96 voxels per minute (target >= 30 on the 2-core
machine), written as NIfTI like the cohort command does; then MRI studies (four sequences, 256 x 256 x 40 on
the T2-w grid) per minute; and the peak memory.

    .venv/bin/python benchmarks/bench_cohort.py [--cases 10] [--mri-cases 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import peak_rss_gb  # noqa: E402

from sacral_tumor_ai.io import write_image  # noqa: E402
from sacral_tumor_ai.phantom.case import ScanSettings, generate_case  # noqa: E402
from sacral_tumor_ai.phantom.mri import generate_mri_case  # noqa: E402


def mri_seconds_per_case(cases: int, folder: Path) -> float:
    """Mean seconds to generate and write one four-sequence MRI study (coarse and fine labels included)."""
    from sacral_tumor_ai.phantom.mri_cohort import _write_mri_case

    settings = ScanSettings(size=(256, 256, 40), slice_mm=(3.0, 5.0))
    start = time.perf_counter()
    for index in range(cases):
        _write_mri_case(folder, generate_mri_case(1, index, settings), montage=False)
    return (time.perf_counter() - start) / cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--mri-cases", type=int, default=3)
    args = parser.parse_args()
    settings = ScanSettings(size=(256, 256, 96))
    generate_case(0, 0, settings)  # warm-up: imports and first allocations
    generating = writing = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.cases):
            start = time.perf_counter()
            case = generate_case(1, index, settings)
            middle = time.perf_counter()
            write_image(case.image, Path(folder) / f"{case.case_id}_ct.nii.gz")
            write_image(case.labelmap, Path(folder) / f"{case.case_id}.nii.gz")
            generating += middle - start
            writing += time.perf_counter() - middle
        mri = mri_seconds_per_case(args.mri_cases, Path(folder)) if args.mri_cases else 0.0
    total = generating + writing
    per_minute = args.cases / total * 60
    print(f"{args.cases} CT cases of 256 x 256 x 96 voxels: {total / args.cases:.2f} s per case "
          f"({generating / args.cases:.2f} s generating, {writing / args.cases:.2f} s writing NIfTI)")
    print(f"throughput: {per_minute:.1f} cases per minute (target >= 30: {'met' if per_minute >= 30 else 'NOT met'})")
    if args.mri_cases:
        print(f"{args.mri_cases} MRI studies (T1-w, T2-w, DWI, CET1-w; 256 x 256 x 40): {mri:.2f} s per study "
              f"({60 / mri:.1f} per minute)")
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()

"""Cohort generation throughput: CT cases of 256 x 256 x 96 voxels per minute written by the cohort command
(target >= 30 on the 2-core machine), its workers on all available cores; then each case's cost in one process,
with hip prostheses (metal streaks, about one case in eight) timed apart, and the throughput at the
generator's prevalence; then MRI studies (four sequences, 256 x 256 x 40 on the T2-w grid) per minute; and the
peak memory of this process and of the largest worker, beside the estimate that schedules the workers.

    .venv/bin/python benchmarks/bench_cohort.py [--cases 20] [--single-cases 6] [--mri-cases 4]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import peak_rss_gb  # noqa: E402

from sacral_tumor_ai.io import write_image  # noqa: E402
from sacral_tumor_ai.phantom.case import ScanSettings, first_cases, generate_case, generation_peak_bytes  # noqa: E402
from sacral_tumor_ai.phantom.cohort import write_cohort  # noqa: E402
from sacral_tumor_ai.phantom.implants import PREVALENCE  # noqa: E402
from sacral_tumor_ai.phantom.mri_cohort import write_mri_cohort  # noqa: E402
from sacral_tumor_ai.phantom.parallel import pool_size  # noqa: E402

MRI_BENCH = ScanSettings(size=(256, 256, 40), slice_mm=(3.0, 5.0))


def workers_peak_gb() -> float:
    """The largest peak resident memory of this process's finished children (GiB). The workers are started
    first, from a small parent: Linux counts a child's memory from the fork, before the exec."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


def cohort_per_minute(cases: int, settings: ScanSettings, folder: Path, mri: bool = False) -> tuple[float, int]:
    """Cases per minute written by the cohort command's own function (no montages), and the workers it used."""
    workers = pool_size(None, cases)
    write = write_mri_cohort if mri else write_cohort
    start = time.perf_counter()
    write(folder, cases, seed=1, settings=settings, montage=False, log=lambda _: None)
    return 60 * cases / (time.perf_counter() - start), workers


def ct_case_seconds(index: int, settings: ScanSettings, folder: Path) -> tuple[float, float, bool]:
    """(seconds generating, seconds writing NIfTI, whether it has a hip prosthesis) for case ``index`` of seed 1."""
    start = time.perf_counter()
    case = generate_case(1, index, settings)
    middle = time.perf_counter()
    write_image(case.image, folder / f"{case.case_id}_ct.nii.gz")
    write_image(case.labelmap, folder / f"{case.case_id}.nii.gz")
    return middle - start, time.perf_counter() - middle, bool(case.details["hip_prostheses"])


def verdict(per_minute: float) -> str:
    return f"target >= 30: {'met' if per_minute >= 30 else 'NOT met'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20, help="CT cases written by the cohort function")
    parser.add_argument("--single-cases", type=int, default=6, help="CT cases timed one by one in this process")
    parser.add_argument("--mri-cases", type=int, default=4)
    args = parser.parse_args()
    settings = ScanSettings(size=(256, 256, 96))
    with tempfile.TemporaryDirectory() as folder:
        parallel, workers = cohort_per_minute(args.cases, settings, Path(folder) / "ct")
        estimate = max(generation_peak_bytes(1, index, settings) for index in range(args.cases)) / 1024**3
        worker_peak = workers_peak_gb()
        mri, mri_workers = cohort_per_minute(args.mri_cases, MRI_BENCH, Path(folder) / "mri", mri=True) if args.mri_cases else (0.0, 0)
        generate_case(0, 0, settings)  # warm-up of this process: imports and first allocations
        runs = [ct_case_seconds(index, settings, Path(folder)) for index in range(args.single_cases)]
        metal_runs = [ct_case_seconds(index, settings, Path(folder)) for index in first_cases(1, 2, settings)]
    print(f"{args.cases} CT cases of 256 x 256 x 96 voxels by the cohort command's function, {workers} workers: "
          f"{parallel:.1f} cases per minute ({verdict(parallel)})")
    generating = np.mean([run[0] for run in runs])
    writing = np.mean([run[1] for run in runs])
    print(f"in one process, {len(runs)} cases: {generating + writing:.2f} s per case ({generating:.2f} s generating, "
          f"{writing:.2f} s writing NIfTI), {60 / (generating + writing):.1f} per minute; {workers} workers: "
          f"{parallel * (generating + writing) / 60:.2f} x one process")
    plain = [sum(run[:2]) for run in runs + metal_runs if not run[2]]
    metal = [sum(run[:2]) for run in runs + metal_runs if run[2]]
    mixed_cost = (1 - PREVALENCE) * np.mean(plain) + PREVALENCE * np.mean(metal)
    mixed = parallel * np.mean(plain) / mixed_cost
    print(f"without prostheses {np.mean(plain):.2f} s per case, with {np.mean(metal):.2f} s ({len(metal)} cases); at the "
          f"generator's {PREVALENCE:.0%} prevalence, {workers} workers: {mixed:.1f} cases per minute ({verdict(mixed)})")
    if args.mri_cases:
        print(f"{args.mri_cases} MRI studies (T1-w, T2-w, DWI, CET1-w; 256 x 256 x 40), {mri_workers} workers: {mri:.1f} per minute")
    print(f"peak RSS: this process {peak_rss_gb():.2f} GB; largest worker {worker_peak:.2f} GB "
          f"(the scheduler's estimate for the largest of these CT cases: {estimate:.2f} GB)")


if __name__ == "__main__":
    main()

"""A cohort's cases made in worker processes, as many at once as the cores and the memory allow.

Each case depends only on its seed and index (:func:`~sacral_tumor_ai.phantom.case.case_rng`), so a cohort is
the same voxel for voxel whatever the number of workers or the order in which they finish (tested).
Generating a case needs far more memory than its output: a CT at the default settings peaks at 2-10 GB,
depending on its grid (``generation_peak_bytes``). A case is started only while the estimated peaks of the
cases running, its own included, fit in the memory that was available when the cohort began; one case
always runs, whatever its size, as it would without workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import TypeVar

Result = TypeVar("Result")
MEMORY_SHARE = 0.85  # of the memory available at the start: the rest is left to the system and the writer


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a container or ``taskset`` may limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def available_memory_bytes() -> float:
    """Memory that can be used without swapping: Linux's MemAvailable, else the free physical pages where the
    system says, else 0 (unknown: then cases run one at a time, as they would without workers)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name (macOS)
        return 0.0


def pool_size(workers: int | None, cases: int) -> int:
    """How many worker processes :func:`run_cases` starts: ``workers`` (default: the available cores), never
    more than there are cases; 1 or less means none (every case in the calling process)."""
    return min(available_cores() if workers is None else workers, cases)


class _Progress:
    """Logs every tenth case and the last one, with the wall time per case so far."""

    def __init__(self, cases: int, log: Callable[[str], None]) -> None:
        self.cases, self.log, self.done, self.started = cases, log, 0, time.perf_counter()

    def step(self) -> None:
        self.done += 1
        if self.done % 10 == 0 or self.done == self.cases:
            self.log(f"{self.done}/{self.cases} cases, {(time.perf_counter() - self.started) / self.done:.1f} s per case")


def run_cases(
    make: Callable[[int], Result],
    peak_bytes: Sequence[float],
    workers: int | None = None,
    log: Callable[[str], None] = print,
    memory_bytes: float | None = None,
) -> list[Result]:
    """``make(index)`` for every case index (``len(peak_bytes)`` of them), results in index order.

    ``make`` must be picklable (a module-level function or a ``functools.partial`` of one) when ``workers`` > 1;
    ``peak_bytes[index]`` is case ``index``'s estimated peak memory. ``workers`` defaults to the available cores;
    1 runs every case in this process. ``memory_bytes`` (default: 85 % of the memory available now) bounds the
    sum of the running cases' peaks.
    """
    cases = len(peak_bytes)
    workers = pool_size(workers, cases)
    progress = _Progress(cases, log)
    if workers <= 1:
        results = []
        for index in range(cases):
            results.append(make(index))
            progress.step()
        return results
    budget = MEMORY_SHARE * available_memory_bytes() if memory_bytes is None else memory_bytes
    results: list[Result | None] = [None] * cases
    running: dict[Future, int] = {}
    # Spawned, not forked: the caller may hold threads (PyTorch's, a web server's) that a fork would copy mid-state.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        try:
            next_index = 0
            while next_index < cases or running:
                while next_index < cases and len(running) < workers and (
                    not running or sum(peak_bytes[i] for i in running.values()) + peak_bytes[next_index] <= budget
                ):
                    running[pool.submit(make, next_index)] = next_index
                    next_index += 1
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[running.pop(future)] = future.result()
                    progress.step()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results  # type: ignore[return-value]

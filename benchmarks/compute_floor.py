"""Shared by the benchmarks: this machine's matrix-multiply rate and a network's FLOPs, measured in-process.

The machine is shared and noisy, so speed is reported as a ratio to the compute floor measured in the same
run: measured time / (FLOPs / matmul FLOP/s).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def matmul_flops_per_second(size: int = 2048, repeats: int = 5, device: str = "cpu", dtype: str = "float32") -> float:
    """Median matrix-product rate (FLOP/s) on ``device`` in ``dtype``, with the current thread settings."""
    import torch

    a = torch.randn(size, size, device=device, dtype=getattr(torch, dtype))
    b = torch.randn(size, size, device=device, dtype=getattr(torch, dtype))

    def product() -> None:
        torch.mm(a, b)
        if device.startswith("cuda"):
            torch.cuda.synchronize()  # GPU kernels run asynchronously: time their end, not their launch

    product()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def forward_flops(network, *inputs) -> float:
    """FLOPs of one forward pass on ``inputs`` (PyTorch's FlopCounterMode)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        network(*inputs)
    return float(counter.get_total_flops())


def peak_rss_gb() -> float:
    """This process's peak resident memory (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# The child reports its own high-water mark as it exits. Its ru_maxrss would not do: Linux keeps it across
# exec, so it starts at the benchmark's own memory at the moment of the fork.
_REPORTING_CHILD = (
    "import atexit, runpy, sys\n"
    "def report():\n"
    "    with open('/proc/self/status') as status:\n"
    "        peak = next(line.split()[1] for line in status if line.startswith('VmHWM'))\n"
    "    print('peak_rss_kib', peak, file=sys.stderr)\n"
    "atexit.register(report)\n"
    "sys.argv[0] = 'sacral-tumor-ai'\n"
    "runpy.run_module('sacral_tumor_ai', run_name='__main__')\n"
)


def run_cli(arguments: list[str], out: Path, environment: dict[str, str] | None = None) -> tuple[float, dict, float]:
    """``sacral-tumor-ai run ARGUMENTS --out OUT`` in a new process (``environment`` added to this one's):
    wall time (imports included), its result, and its own peak resident memory (GiB)."""
    start = time.perf_counter()
    command = [sys.executable, "-c", _REPORTING_CHILD, "run", *arguments, "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(environment or {})})
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"run {' '.join(arguments)} failed: {done.stderr.strip()}")
    peak_kib = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak_rss_kib"))
    return seconds, json.loads((Path(out) / "result.json").read_text()), peak_kib / 1024**2

"""Shared by the benchmarks: this machine's matrix-multiply rate and a network's FLOPs, measured in-process.

The machine is shared and noisy, so speed is reported as a ratio to the compute floor measured in the same
run: measured time / (FLOPs / matmul FLOP/s).
"""

from __future__ import annotations

import resource
import statistics
import time


def matmul_flops_per_second(size: int = 2048, repeats: int = 5) -> float:
    """Median float32 matrix-product rate (FLOP/s) with the current thread settings."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
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


def peak_rss_gb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024**2

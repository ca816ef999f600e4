"""CT training step speed: float32 against bfloat16 forward passes (``train-seg``'s ``precision`` setting), in
one run on this machine, with the bundled model's architecture and the fine-tuning recipe's patches.

    .venv/bin/python benchmarks/bench_training.py [--config scripts/ct_finetune_config.json] [--steps N]

A step is ``train-seg``'s own ``training_step`` (forward with deep supervision, the Dice + cross-entropy
loss, backward, gradient clipping, the optimiser step), on random input and labels (speed only: whether a
bfloat16 fine-tune reaches the same Dice is not measured here). bfloat16 is only fast where the CPU computes
it natively (AVX512-BF16 or AMX; ``models.precision``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import matmul_flops_per_second  # noqa: E402

from sacral_tumor_ai.models.networks import build_network  # noqa: E402
from sacral_tumor_ai.models.precision import native_bfloat16  # noqa: E402
from sacral_tumor_ai.training.seg_train import SegTrainingConfig, training_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def step_seconds(config: SegTrainingConfig, precision: str, steps: int) -> float:
    """Median seconds of a training step (after one warm-up step) with forward passes in ``precision``."""
    import torch

    torch.manual_seed(0)
    network = build_network(config.architecture()).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate)
    size = tuple(reversed(config.training_patch_size()))
    images = torch.rand(config.batch_size, len(config.windows), *size)
    labels = torch.randint(0, 5, (config.batch_size, 1, *size)).float()
    partial = torch.zeros(config.batch_size, dtype=torch.bool)
    settings = replace(config, precision=precision)
    times = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        training_step(network, optimizer, images, labels, partial, settings)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "scripts" / "ct_finetune_config.json"))
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    settings = {k: v for k, v in json.loads(Path(args.config).read_text()).items() if k in SegTrainingConfig.__dataclass_fields__}
    config = SegTrainingConfig(**{**settings, "datalist": "unused", "out": "unused"})
    print(f"machine: matmul float32 {matmul_flops_per_second() / 1e9:.0f}, bfloat16 {matmul_flops_per_second(dtype='bfloat16') / 1e9:.0f} "
          f"GFLOP/s with {torch.get_num_threads()} threads; native bfloat16: {native_bfloat16('cpu')}")
    patch = "x".join(str(v) for v in config.training_patch_size())
    seconds = {precision: step_seconds(config, precision, args.steps) for precision in ("float32", "bfloat16")}
    print(f"training step ({config.batch_size} patches of {patch}, {Path(args.config).name}): float32 {seconds['float32']:.2f} s, "
          f"bfloat16 {seconds['bfloat16']:.2f} s; float32 / bfloat16 = {seconds['float32'] / seconds['bfloat16']:.2f}")


if __name__ == "__main__":
    main()

"""Learning-rate schedules shared by the training commands."""

from __future__ import annotations

import math

FINAL_FACTOR = 0.02  # the last epoch's learning rate, as a share of the configured one


def cosine_factor(epoch: int, start: int, end: int) -> float:
    """The learning-rate factor at ``epoch`` of a cosine decay from 1 at ``start`` to ``FINAL_FACTOR`` at ``end``."""
    progress = min(1.0, max(0.0, (epoch - start) / max(1, end - start)))
    return FINAL_FACTOR + (1 - FINAL_FACTOR) * 0.5 * (1 + math.cos(math.pi * progress))


def constant_then_cosine(epoch: int, decay_from: int | None, epochs: int) -> float:
    """Constant until ``decay_from`` (None: constant throughout), then the cosine decay to the last epoch.

    Stateless, so a run resumed from a checkpoint, or extended with a later decay, needs no scheduler state."""
    if decay_from is None or epoch < decay_from:
        return 1.0
    return cosine_factor(epoch, decay_from, epochs)


def warmup_then_cosine(epoch: int, warmup: int, epochs: int) -> float:
    """A linear warm-up over the first ``warmup`` epochs (from 1/(warmup+1)), then the cosine decay to the last
    epoch. Stateless like :func:`constant_then_cosine`."""
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    return cosine_factor(epoch, warmup, epochs)


def set_learning_rate(optimizer, rate: float) -> None:
    """Every parameter group of ``optimizer`` at ``rate`` (the trainers set it at the start of each epoch)."""
    for group in optimizer.param_groups:
        group["lr"] = rate

"""Training checkpoints and run records, shared by every trainer: checkpoints written atomically and read
back with ``weights_only=True`` (no pickled code), resumption, and the per-epoch log."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sacral_tumor_ai.io.atomic import atomic_output


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    import torch

    with atomic_output(path) as temporary:
        torch.save(state, temporary)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    import torch

    return torch.load(Path(path), map_location="cpu", weights_only=True)


def restore_checkpoint(path: Path, network, optimizer) -> tuple[int, float, list[dict[str, Any]]] | None:
    """Restore network and optimizer from the checkpoint at ``path``; returns the epoch to start from, the
    best validation score so far and the history, or None when there is no checkpoint. The learning rate is
    not restored: the trainers compute it from the epoch (``training.schedule``), so a resumed run may be
    given more epochs. (Checkpoints of older versions also hold a scheduler state, which is ignored.)"""
    if not path.exists():
        return None
    state = load_checkpoint(path)
    network.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"]) + 1, float(state["best"]), list(state["history"])


def resume_run(path: Path, network, optimizer, resume: bool, log: Callable[[str], None] | None, score_name: str) -> tuple[int, float, list[dict[str, Any]]]:
    """Where a run starts: the epoch, the best validation score so far and the history. From the checkpoint
    at ``path`` when ``resume`` and it exists (network and optimizer restored, the resumption logged with
    ``score_name`` unless ``log`` is None), else epoch 0 with no best and no history."""
    restored = restore_checkpoint(path, network, optimizer) if resume else None
    if restored is None:
        return 0, -1.0, []
    if log is not None:
        log(f"resuming after epoch {restored[0]} (best {score_name} {restored[1]:.4f})")
    return restored


def close_epoch(
    record: dict[str, Any],
    score: float,
    best: float,
    history: list[dict[str, Any]],
    network,
    optimizer,
    out: Path,
    export: Callable[[], None],
    log: Callable[[str], None],
) -> float:
    """End an epoch: log ``record`` (its ``epoch`` counted from 1) and add it to ``history``; when ``score``
    beats ``best``, ``export()`` (the trainer writes its model package); then checkpoint ``out``/checkpoint.pt
    and rewrite ``out``/training_log.csv. Returns the best score. The checkpoint comes after the export, so a
    run stopped between them exports that epoch again when resumed rather than losing it."""
    history.append(record)
    log(format_record(record))
    if score > best:
        best = score
        export()
    state = {"model": network.state_dict(), "optimizer": optimizer.state_dict(), "epoch": record["epoch"] - 1, "best": best, "history": history}
    save_checkpoint(state, out / "checkpoint.pt")
    write_history(history, out / "training_log.csv")
    return best


def epoch_record(epoch: int, losses: list[float], started: float, dice: dict[str, float]) -> dict[str, Any]:
    """A segmentation trainer's record of ``epoch`` (0-based): mean loss, seconds since ``started``
    (``time.perf_counter``), mean and per-label validation Dice."""
    import time

    import numpy as np

    return {
        "epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - started, 1),
        "mean_dice": float(np.mean(list(dice.values()))), **{f"dice_{k}": v for k, v in dice.items()},
    }


def format_record(record: dict[str, Any]) -> str:
    """One epoch's record as a log line (floats to 4 decimals)."""
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())


def write_history(history: list[dict[str, Any]], path: Path) -> None:
    """The per-epoch records as a CSV (``training_log.csv``); a column that only later epochs have (a run
    extended by a newer version) is left empty for the earlier ones."""
    columns = list(dict.fromkeys(key for record in history for key in record))
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)

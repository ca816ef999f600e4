"""Training checkpoints: written atomically, read back with ``weights_only=True`` (no pickled code)."""

from __future__ import annotations

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

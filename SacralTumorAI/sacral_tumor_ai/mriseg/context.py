"""The 2.5D network's input: each slice with its neighbours stacked as channels (NumPy only, so the inference
runs where SimpleITK is not installed)."""

from __future__ import annotations

import numpy as np


def stack_context(volumes: list[np.ndarray], context: int, slices: np.ndarray | None = None) -> np.ndarray:
    """2.5D inputs (N, len(volumes) * (2 * context + 1), y, x) for ``slices`` (default: all): per volume, each
    slice with ``context`` neighbours on each side, repeating the edge slice at the volume's ends."""
    depth = volumes[0].shape[0]
    slices = np.arange(depth) if slices is None else np.asarray(slices)
    offsets = np.arange(-context, context + 1)
    index = np.clip(slices[:, None] + offsets[None, :], 0, depth - 1)  # (N, 2k+1)
    return np.concatenate([volume[index] for volume in volumes], axis=1)

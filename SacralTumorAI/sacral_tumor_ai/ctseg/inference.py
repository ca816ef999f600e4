"""Sliding-window inference with Gaussian blending; mixed precision on GPU; cancellable between patches."""

from __future__ import annotations

import contextlib
import math

import numpy as np

from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.progress import Progress


def count_windows(shape: tuple[int, ...], roi: tuple[int, ...], overlap: float) -> int:
    """Number of patches MONAI's sliding window visits (for progress reporting)."""
    total = 1
    for size, window in zip(shape, roi):
        if size <= window:
            continue
        stride = max(1, int(window * (1 - overlap)))
        total *= math.ceil((size - window) / stride) + 1
    return total


def predict_labels(
    network,
    channels: np.ndarray,
    spec: CTModelSpec,
    device: str = "cpu",
    progress: Progress | None = None,
) -> np.ndarray:
    """Arg-max label values (uint8, z-y-x) on the model grid for a prepared (C, z, y, x) input."""
    import torch
    from monai.inferers import sliding_window_inference

    progress = progress or Progress()
    roi = tuple(reversed(spec.patch_size))  # metadata says x, y, z; arrays are z, y, x
    total = count_windows(channels.shape[1:], roi, spec.overlap)
    done = [0]

    def predictor(patch: torch.Tensor) -> torch.Tensor:
        progress.step(0.2 + 0.6 * done[0] / max(total, 1), f"segmenting patch {done[0] + 1} of {total}")
        done[0] += 1
        return network(patch)

    inputs = torch.from_numpy(channels)[None].to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        logits = sliding_window_inference(
            inputs, roi, sw_batch_size=1, predictor=predictor, overlap=spec.overlap, mode="gaussian"
        )
    channel = logits[0].float().argmax(dim=0).to(torch.uint8).cpu().numpy()
    values = np.asarray(spec.label_values(), dtype=np.uint8)
    return values[channel]


"""Whole-volume 2.5D inference: every slice with its neighbours, in batches, softmax probabilities out."""

from __future__ import annotations

import numpy as np

from sacral_tumor_ai.mriseg.context import stack_context
from sacral_tumor_ai.progress import Progress

DIVISOR = 32  # the U-Net's five downsamplings need sides divisible by 32


def _pad_to_divisor(batch, divisor: int = DIVISOR):
    import torch.nn.functional as F

    height, width = batch.shape[-2:]
    pad_y, pad_x = (-height) % divisor, (-width) % divisor
    padded = F.pad(batch, (pad_x // 2, pad_x - pad_x // 2, pad_y // 2, pad_y - pad_y // 2), mode="replicate")
    return padded, (pad_y // 2, pad_x // 2, height, width)


def predict_probabilities(
    network,
    volumes: list[np.ndarray],
    context: int,
    device: str = "cpu",
    batch_size: int = 8,
    progress: Progress | None = None,
    fractions: tuple[float, float] = (0.2, 0.8),
) -> np.ndarray:
    """Softmax probabilities (K, z, y, x) of ``network`` on the normalised ``volumes`` (one per input sequence,
    all on the same grid). Mixed precision (float16) on CUDA; float32 on CPU."""
    import torch

    depth = volumes[0].shape[0]
    output = None
    use_amp = device.startswith("cuda")
    with torch.inference_mode():
        for start in range(0, depth, batch_size):
            if progress is not None:
                progress.step(fractions[0] + (fractions[1] - fractions[0]) * start / depth, f"segmenting slices {start + 1}-{min(depth, start + batch_size)} of {depth}")
            stacked = torch.from_numpy(stack_context(volumes, context, np.arange(start, min(depth, start + batch_size))))
            batch, (top, left, height, width) = _pad_to_divisor(stacked.to(device))
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                logits = network(batch)
            probabilities = torch.softmax(logits.float(), dim=1)[:, :, top : top + height, left : left + width]
            if output is None:
                output = np.empty((probabilities.shape[1], depth, height, width), np.float32)
            output[:, start : start + len(probabilities)] = probabilities.cpu().numpy().transpose(1, 0, 2, 3)
    return output

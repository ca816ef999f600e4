"""Sliding-window inference with Gaussian blending; bfloat16 where the hardware has it (``models.precision``);
cancellable between patches.

Optional test-time mirroring averages the prediction with that of the left-right mirrored input (hip labels
swapped back), and per-label decision offsets, calibrated on validation cases (``calibrate-seg``), are added
to the log-probabilities before the arg-max: both are read from the model's metadata.
"""

from __future__ import annotations

import math

import numpy as np

from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.models.precision import inference_autocast
from sacral_tumor_ai.progress import Progress


# Windows run two at a time. In float32 PyTorch's CPU convolution takes its slow native path for a single
# small input (batch 1 and batch x channels x depth x height <= 20480), which most of a 64³ window's layers
# are: a 64³ window took 0.28 s in float32 alone and 0.085 s in a pair (bfloat16 0.04 s either way; instance
# normalisation is per window, so the results are the same).
WINDOW_BATCH = 2


def count_windows(shape: tuple[int, ...], roi: tuple[int, ...], overlap: float) -> int:
    """Number of patches MONAI's sliding window visits (for progress reporting)."""
    total = 1
    for size, window in zip(shape, roi):
        if size <= window:
            continue
        stride = max(1, int(window * (1 - overlap)))
        total *= math.ceil((size - window) / stride) + 1
    return total


def predict_probabilities(
    network,
    channels: np.ndarray,
    spec: CTModelSpec,
    device: str = "cpu",
    progress: Progress | None = None,
    mirror: bool | None = None,
) -> np.ndarray:
    """Softmax probabilities (float32, C x z-y-x, channel 0 background) on the model grid for a prepared
    (C, z, y, x) input; ``mirror`` (default: the model's metadata) also runs the left-right mirrored input."""
    import torch
    from monai.inferers import sliding_window_inference

    progress = progress or Progress()
    mirror = spec.mirror if mirror is None else mirror
    roi = tuple(reversed(spec.patch_size))  # metadata says x, y, z; arrays are z, y, x
    passes = 2 if mirror else 1
    total = count_windows(channels.shape[1:], roi, spec.overlap) * passes
    done = [0]

    def predictor(patch: torch.Tensor) -> torch.Tensor:
        progress.step(0.2 + 0.6 * done[0] / max(total, 1), f"segmenting patch {done[0] + 1} of {total}")
        done[0] += patch.shape[0]
        return network(patch)

    def softmax(inputs: torch.Tensor) -> torch.Tensor:
        logits = sliding_window_inference(inputs, roi, sw_batch_size=WINDOW_BATCH, predictor=predictor, overlap=spec.overlap, mode="gaussian")
        return torch.softmax(logits[0].float(), dim=0)

    inputs = torch.from_numpy(channels)[None].to(device)
    with torch.inference_mode(), inference_autocast(device):
        probabilities = softmax(inputs)
        if mirror:
            # The model grid is LPS axis-aligned: its x axis (the last) runs right to left.
            mirrored = softmax(torch.flip(inputs, dims=[4])).flip(dims=[3])
            probabilities = (probabilities + mirrored[list(spec.mirrored_channels())]) / 2
    return probabilities.cpu().numpy()


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Logarithms of the probabilities, floored at 1e-8 (a new array, computed in place: big scans)."""
    scores = np.maximum(probabilities, 1e-8)
    return np.log(scores, out=scores)


def decide_labels(probabilities: np.ndarray, spec: CTModelSpec) -> np.ndarray:
    """Label values (uint8, z-y-x): the arg-max of the log-probabilities plus the model's decision offsets."""
    offsets = np.asarray(spec.decision_offsets(), np.float32)
    scores = probabilities
    if np.any(offsets):
        scores = log_probabilities(probabilities)
        scores += offsets[:, None, None, None]
    values = np.asarray(spec.label_values(), dtype=np.uint8)
    return values[scores.argmax(axis=0)]


def predict_labels(
    network,
    channels: np.ndarray,
    spec: CTModelSpec,
    device: str = "cpu",
    progress: Progress | None = None,
    mirror: bool | None = None,
) -> np.ndarray:
    """Label values (uint8, z-y-x) on the model grid for a prepared (C, z, y, x) input."""
    return decide_labels(predict_probabilities(network, channels, spec, device, progress, mirror), spec)


def predict_labels_and_tumour(
    network, channels: np.ndarray, spec: CTModelSpec, device: str = "cpu", progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`predict_labels`, and the tumour's probability (float32, z-y-x) where the model's metadata sets a
    level or tumour-edge refinement for it (None otherwise: the other channels are let go as soon as the labels
    are decided)."""
    probabilities = predict_probabilities(network, channels, spec, device, progress)
    wanted = spec.tumour_min_probability or spec.tumour_edges is not None  # the spec has a tumour then
    tumour = probabilities[spec.tumour_channel()].copy() if wanted else None
    return decide_labels(probabilities, spec), tumour

"""The floating-point precision a network's inference runs in.

bfloat16 autocast where the hardware computes it natively: CUDA GPUs, and CPUs with AVX512-BF16 or AMX (on
this project's 2-core Zen 4 machine a 96³ window of the CT model takes 0.13 s instead of 0.41 s). Elsewhere
float32, since emulated bfloat16 is slower than float32. ``SACRAL_TUMOR_AI_PRECISION`` (``auto``, the
default; ``float32``; ``bfloat16``) overrides the choice, e.g. to reproduce float32 results exactly.
"""

from __future__ import annotations

import contextlib
import os

PRECISION_VARIABLE = "SACRAL_TUMOR_AI_PRECISION"
DTYPES = ("float32", "bfloat16")  # what a network can be asked to run in
PRECISIONS = ("auto", *DTYPES)


def requested_precision() -> str:
    """The precision asked for in the environment (``auto`` when unset); an unknown value is an error."""
    value = os.environ.get(PRECISION_VARIABLE, "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_VARIABLE}={value!r}: expected one of {', '.join(PRECISIONS)}")
    return value


def native_bfloat16(device: str) -> bool:
    """Whether ``device`` computes bfloat16 natively (a CUDA GPU, or a CPU with AVX512-BF16 or AMX)."""
    import torch

    if device.startswith("cuda"):
        return True
    if device != "cpu":
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check is not None and bool(check()) for check in checks)  # private checks: absent means no


def inference_dtype(device: str) -> str:
    """``"bfloat16"`` or ``"float32"``: what inference on ``device`` runs in, as requested and supported."""
    requested = requested_precision()
    if requested == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return requested


def autocast(device: str, dtype: str) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` (``"bfloat16"``; ``"float32"`` is a no-op) for work on ``device``."""
    import torch

    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=getattr(torch, dtype))


def inference_autocast(device: str) -> contextlib.AbstractContextManager:
    """The autocast context for inference on ``device``, in :func:`inference_dtype`."""
    return autocast(device, inference_dtype(device))

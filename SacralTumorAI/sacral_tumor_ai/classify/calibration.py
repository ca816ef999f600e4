"""Temperature scaling (Guo et al., ICML 2017): one temperature T, fitted on validation logits by
minimising the negative log-likelihood; probabilities are softmax(logits / T). It changes confidence,
never the ranking, so AUCs are unchanged."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    return float(-log_softmax(logits / temperature, axis=1)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising the NLL of ``labels`` (class indices) under ``logits``."""
    result = minimize_scalar(lambda t: negative_log_likelihood(logits, labels, float(np.exp(t))), bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(np.asarray(logits, float) / temperature, axis=-1)

"""Metrics over all rows of a data set: MSE, test/train ratio, per-frequency
MSE and Pearson correlation. What the ratio means is said in verdict.py."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def mse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((np.asarray(prediction, dtype=np.float64) - target) ** 2))


def correlation(prediction: np.ndarray, target: np.ndarray) -> float:
    """Pearson r; NaN when either side is constant (e.g. a zero predictor)."""
    p = np.asarray(prediction, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.std() == 0 or t.std() == 0:
        return float("nan")
    return float(np.corrcoef(p, t)[0, 1])


def summarise(frequencies: np.ndarray, predictions: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> dict[str, Any]:
    """predictions/targets: {'train': (K, N), 'test': (K, N)}."""
    train_mse = mse(predictions["train"], targets["train"])
    test_mse = mse(predictions["test"], targets["test"])
    ratio = test_mse / train_mse if train_mse > 0 else math.inf
    per_frequency = [
        {
            "hz": float(hz),
            "train_mse": mse(predictions["train"][k], targets["train"][k]),
            "test_mse": mse(predictions["test"][k], targets["test"][k]),
            "correlation": correlation(predictions["test"][k], targets["test"][k]),
        }
        for k, hz in enumerate(frequencies)
    ]
    return {"train_mse": train_mse, "test_mse": test_mse, "ratio": ratio,
            # measured, for the ratio's label (lstm_core/verdict.py)
            "targets_identical": bool(np.array_equal(targets["train"], targets["test"])),
            "per_frequency": per_frequency}


def amplitude_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum (frequencies, amplitudes) of the last
    axis: a unit sine at f shows as 1.0 at f."""
    n = x.shape[-1]
    return np.fft.rfftfreq(n, d=1.0 / fs), 2.0 * np.abs(np.fft.rfft(x)) / n

"""Metrics over the rows of a data set: MSE, per-frequency MSE and Pearson
correlation, the amplitude spectrum."""
from __future__ import annotations

import numpy as np

from .results import FrequencyScore


def mse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((np.asarray(prediction, dtype=np.float64) - target) ** 2))


def correlation(prediction: np.ndarray, target: np.ndarray) -> float:
    """Pearson r; NaN when either side is constant (e.g. a zero predictor)."""
    p = np.asarray(prediction, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.std() == 0 or t.std() == 0:
        return float("nan")
    return float(np.corrcoef(p, t)[0, 1])


def per_frequency(frequencies: np.ndarray, predictions: dict[str, np.ndarray],
                  targets: dict[str, np.ndarray]) -> tuple[FrequencyScore, ...]:
    """predictions/targets: {'train': (K, N), 'test': (K, N)}."""
    return tuple(
        FrequencyScore(float(hz), mse(predictions["train"][k], targets["train"][k]),
                       mse(predictions["test"][k], targets["test"][k]),
                       correlation(predictions["test"][k], targets["test"][k]))
        for k, hz in enumerate(frequencies))


def amplitude_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum (frequencies, amplitudes) of the last
    axis: a unit sine at f shows as 1.0 at f."""
    n = x.shape[-1]
    return np.fft.rfftfreq(n, d=1.0 / fs), 2.0 * np.abs(np.fft.rfft(x)) / n

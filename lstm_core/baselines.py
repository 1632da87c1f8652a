"""Baselines every evaluation is measured against.

- The zero predictor: its MSE is the mean squared target (0.5 for unit sines
  over whole periods). A model that does no better learned nothing.
- The band-pass reference: for each frequency f_i, the ideal (brick-wall,
  FFT) band-pass of S around f_i and its quadrature (Hilbert) term, combined
  by a gain and a quadrature coefficient fitted by least squares on the
  training set and applied unchanged to the test set. It is non-causal (it
  sees the whole signal, future included), so it is not a competitor to the
  LSTM; it measures how much information about the targets S holds under the
  chosen noise: near 0 MSE for small phase noise, no better than zero under
  the literal spec, where every sample's phase is drawn from U(0, 2pi).
"""
from __future__ import annotations

import numpy as np

from .data import SignalSet
from .metrics import mse
from .results import BandpassFrequency, Baselines

MAX_HALF_WIDTH_HZ = 0.5  # narrow: the components are pure tones, the noise is white
NEIGHBOUR_SHARE = 0.45  # never reach more than 45% of the way to the next frequency


def zero_mse(targets: np.ndarray) -> float:
    """MSE of predicting 0 everywhere, i.e. the mean squared target."""
    return mse(np.zeros_like(targets), targets)


def half_width_hz(frequencies: np.ndarray, duration: float) -> float:
    """Half the pass band: at most 0.5 Hz, never overlapping a neighbour's band,
    and at least one FFT bin (1/duration) so the band is never empty."""
    freqs = np.sort(np.asarray(frequencies, dtype=np.float64))
    width = MAX_HALF_WIDTH_HZ
    if freqs.shape[0] > 1:
        width = min(width, NEIGHBOUR_SHARE * float(np.min(np.diff(freqs))))
    return max(width, 1.0 / duration)


def band_pass(S: np.ndarray, fs: float, f0: float, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Ideal band-pass of S to [f0 - half_width, f0 + half_width] and its
    Hilbert transform (the same band shifted by -90 degrees)."""
    n = S.shape[0]
    spectrum = np.fft.rfft(np.asarray(S, dtype=np.float64))
    bins = np.fft.rfftfreq(n, d=1.0 / fs)
    passed = spectrum * (np.abs(bins - f0) <= half_width)
    in_phase = np.fft.irfft(passed, n)
    quadrature = np.fft.irfft(passed * -1j, n)  # H{x}: positive frequencies times -j
    return in_phase, quadrature


def _features(signal: SignalSet, k: int, half_width: float) -> np.ndarray:
    in_phase, quadrature = band_pass(signal.S, signal.fs, float(signal.frequencies[k]), half_width)
    return np.stack([in_phase, quadrature], axis=1)  # (N, 2)


def bandpass_reference(train: SignalSet, test: SignalSet) -> tuple[Baselines, np.ndarray]:
    """Fit gain and quadrature coefficients per frequency on `train`, apply
    them to `test`. Returns the baselines (the zero predictor, the reference's
    test MSE overall and per frequency) and its test-set predictions (K, N)."""
    half_width = half_width_hz(train.frequencies, min(train.duration, test.duration))
    predictions = np.empty_like(test.targets, dtype=np.float64)
    per_frequency = []
    for k, hz in enumerate(train.frequencies):
        coefficients, *_ = np.linalg.lstsq(_features(train, k, half_width), train.targets[k], rcond=None)
        predictions[k] = _features(test, k, half_width) @ coefficients
        per_frequency.append(BandpassFrequency(float(hz), mse(predictions[k], test.targets[k]),
                                               float(coefficients[0]), float(coefficients[1])))
    baselines = Baselines(zero_mse(test.targets), mse(predictions, test.targets), half_width, tuple(per_frequency))
    return baselines, predictions

"""Phase and frequency drift of the model's output against each target, from
the analytic signal (scipy.signal.hilbert).

A model that times each waveform from the state reset at t = 0 runs slowly
off it: its phase error against the target grows with time, and its
instantaneous frequency sits beside the target's. Per frequency this gives
the phase error over time, the output's instantaneous frequency over time,
and a summary: the output's median frequency, the drift rate (slope of a
line fitted to the phase error) and the first time the error reaches
DRIFT_LIMIT_DEG.

Where the output's envelope is below VALID_ENVELOPE of the target's, its
phase means nothing (a model that outputs a constant has none); within one
target period of either end of the signal the analytic signal itself is
unreliable (the Hilbert transform's edge effect). Those samples are NaN and
left out of the summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.signal import hilbert

VALID_ENVELOPE = 0.1
DRIFT_LIMIT_DEG = 45.0


@dataclass(frozen=True)
class DriftRow:
    """One frequency's drift; None where the output has no phase."""
    hz: float
    output_hz: Optional[float]  # the output's median instantaneous frequency
    drift_deg_per_s: Optional[float]  # slope of a line fitted to the phase error
    limit_reached_s: Optional[float]  # first time |phase error| >= DRIFT_LIMIT_DEG (None: never)
    defined: float  # share of the samples with a phase


@dataclass
class Drift:
    t: np.ndarray  # (N,) seconds
    frequencies: np.ndarray  # (K,) target Hz
    phase_error_deg: np.ndarray  # (K, N) output phase minus target phase, unwrapped; NaN where undefined
    frequency_hz: np.ndarray  # (K, N) output's instantaneous frequency, smoothed over one target period
    summary: list[DriftRow]  # one per frequency


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Moving mean over `window` samples, the same length, no zero padding."""
    if window <= 1:
        return x
    kernel = np.ones(window)
    return np.convolve(x, kernel, mode="same") / np.convolve(np.ones_like(x), kernel, mode="same")


def _summary(hz: float, t: np.ndarray, error: np.ndarray, frequency: np.ndarray) -> DriftRow:
    defined = np.isfinite(error)
    share = float(defined.mean()) if defined.size else 0.0
    if defined.sum() < 2:
        return DriftRow(float(hz), None, None, None, share)
    beyond = np.flatnonzero(defined & (np.abs(np.nan_to_num(error)) >= DRIFT_LIMIT_DEG))
    return DriftRow(float(hz), float(np.nanmedian(frequency)), float(np.polyfit(t[defined], error[defined], 1)[0]),
                    float(t[beyond[0]]) if beyond.size else None, share)


def phase_drift(t: np.ndarray, targets: np.ndarray, output: np.ndarray, frequencies: np.ndarray,
                fs: float) -> Drift:
    """targets and output: (K, N) on the time axis t (N,), sampled at fs."""
    targets = np.asarray(targets, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    analytic_target = hilbert(targets - targets.mean(axis=-1, keepdims=True), axis=-1)
    analytic_output = hilbert(output - output.mean(axis=-1, keepdims=True), axis=-1)
    defined = np.abs(analytic_output) >= VALID_ENVELOPE * np.abs(analytic_target)
    wrapped = np.angle(analytic_output * np.conj(analytic_target))
    phase_error = np.full(targets.shape, np.nan)
    frequency = np.full(targets.shape, np.nan)
    output_phase = np.unwrap(np.angle(analytic_output), axis=-1)
    n = targets.shape[-1]
    for k, hz in enumerate(frequencies):
        period = max(1, int(round(fs / hz)))
        keep = defined[k].copy()
        if n > 4 * period:  # else there would be nothing left: keep the edges
            keep[:period] = keep[n - period:] = False
        error = np.degrees(np.unwrap(wrapped[k, keep]))
        if error.size:  # whole turns counted from the first clean period: there the error is within ±180°
            anchor = np.flatnonzero(keep)
            clean = error[min(np.searchsorted(anchor, period), error.size - 1)]
            error -= 360.0 * np.round(clean / 360.0)
        phase_error[k, keep] = error
        instantaneous = np.gradient(output_phase[k]) * fs / (2 * np.pi)
        frequency[k, keep] = _smooth(instantaneous, min(period, n))[keep]
    summary = [_summary(hz, t, phase_error[k], frequency[k]) for k, hz in enumerate(frequencies)]
    return Drift(np.asarray(t, dtype=np.float64), np.asarray(frequencies, dtype=np.float64), phase_error, frequency,
                 summary)


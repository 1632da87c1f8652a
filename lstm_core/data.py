"""Synthetic signal data: the noisy mix S(t) and the pure targets.

For every sample t and component i, amplitude A_i(t) ~ U(amplitude range) and
phase phi_i(t) ~ U(phase range) are drawn afresh:

    S(t)         = mean_i A_i(t) * sin(2 pi f_i t + phi_i(t))
    Target_i(t)  = sin(2 pi f_i t)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RunConfig


@dataclass(frozen=True)
class SignalSet:
    t: np.ndarray  # (N,) seconds
    S: np.ndarray  # (N,) the noisy mixed signal
    targets: np.ndarray  # (K, N) pure sinusoids, one row per frequency
    frequencies: np.ndarray  # (K,) Hz
    fs: float
    duration: float
    amplitude_low: float
    amplitude_high: float
    phase_low: float
    phase_high: float
    seed: int

    @property
    def n_samples(self) -> int:
        return int(self.t.shape[0])

    @property
    def n_frequencies(self) -> int:
        return int(self.frequencies.shape[0])

    def with_signal(self, S: np.ndarray) -> "SignalSet":
        """The same targets with another input signal (ablations, augmentation)."""
        return SignalSet(**{**self.__dict__, "S": np.asarray(S, dtype=np.float64)})

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The guide's row layout: K*N rows ordered frequency-major, each
        input [S[t], one-hot C] and target Target_i[t]."""
        k, n = self.n_frequencies, self.n_samples
        inputs = np.zeros((k * n, 1 + k), dtype=np.float32)
        inputs[:, 0] = np.tile(self.S, k)
        inputs[np.arange(k * n), 1 + np.repeat(np.arange(k), n)] = 1.0
        return inputs, self.targets.reshape(-1).astype(np.float32)

    def streams(self) -> tuple[np.ndarray, np.ndarray]:
        """One stream per frequency, all starting at t = 0: inputs (K, N, 1+K)
        with [S[t], one-hot C], targets (K, N). A stream is what one LSTM
        state runs through, from its reset to its end."""
        k, n = self.n_frequencies, self.n_samples
        inputs = np.zeros((k, n, 1 + k), dtype=np.float32)
        inputs[:, :, 0] = self.S[None, :]
        inputs[np.arange(k), :, 1 + np.arange(k)] = 1.0
        return inputs, self.targets.astype(np.float32)


def generate(
    frequencies: list[float] | np.ndarray,
    *,
    fs: float = 1000.0,
    duration: float = 10.0,
    amplitude_range: tuple[float, float] = (0.8, 1.2),
    phase_range: tuple[float, float] = (0.0, 2 * np.pi),
    seed: int = 1,
) -> SignalSet:
    """Generate one data set. Same arguments, same arrays, bit for bit."""
    freqs = np.asarray(frequencies, dtype=np.float64)
    n = int(round(fs * duration))
    t = np.arange(n, dtype=np.float64) / fs
    rng = np.random.default_rng(seed)
    components = np.empty((freqs.shape[0], n))
    for i, f in enumerate(freqs):
        amplitude = rng.uniform(amplitude_range[0], amplitude_range[1], size=n)
        phase = rng.uniform(phase_range[0], phase_range[1], size=n)
        components[i] = amplitude * np.sin(2 * np.pi * f * t + phase)
    return SignalSet(
        t=t,
        S=components.mean(axis=0),
        targets=np.sin(2 * np.pi * freqs[:, None] * t[None, :]),
        frequencies=freqs,
        fs=float(fs),
        duration=float(duration),
        amplitude_low=float(amplitude_range[0]),
        amplitude_high=float(amplitude_range[1]),
        phase_low=float(phase_range[0]),
        phase_high=float(phase_range[1]),
        seed=int(seed),
    )


def generate_for(config: RunConfig, seed: int) -> SignalSet:
    return generate(
        config.frequencies,
        fs=config.fs,
        duration=config.duration,
        amplitude_range=(config.amplitude_low, config.amplitude_high),
        phase_range=config.phase_range,
        seed=seed,
    )


def splits_for(config: RunConfig, with_test: bool = True) -> dict[str, SignalSet]:
    """Train, validation and test sets: same targets, three noise seeds. The
    validation set is its own draw, never the test set and never a shuffle
    of the training stream (which would break its temporal order).
    with_test=False: training only, the test set is never drawn."""
    splits = {
        "train": generate_for(config, config.train_seed),
        "val": generate_for(config, config.val_seed),
    }
    if with_test:
        splits["test"] = generate_for(config, config.test_seed)
    return splits

"""Synthetic signal data: the noisy mix S(t) and the pure targets.

For every sample t and component i, amplitude A_i(t) ~ U(amplitude range) and
phase phi_i(t) ~ U(phase range) are drawn afresh:

    S(t)         = mean_i A_i(t) * sin(2 pi f_i t + phi_i(t))
    Target_i(t)  = sin(2 pi f_i t)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import RunConfig
from .errors import UserError
from .files import MAX_DATA_BYTES, atomic_write, open_regular

PARAM_KEYS = ("fs", "duration", "amplitude_low", "amplitude_high", "phase_low", "phase_high", "seed")


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


def splits_for(config: RunConfig) -> dict[str, SignalSet]:
    """Train, validation and test sets: same targets, three noise seeds. The
    validation set is its own draw, never the test set and never a shuffle
    of the training stream (which would break its temporal order)."""
    return {
        "train": generate_for(config, config.train_seed),
        "val": generate_for(config, config.val_seed),
        "test": generate_for(config, config.test_seed),
    }


def save_npz(signal: SignalSet, path: str | Path) -> None:
    arrays = {
        "S": signal.S,
        "targets": signal.targets,
        "frequencies": signal.frequencies,
        "t": signal.t,
        **{key: np.asarray(getattr(signal, key)) for key in PARAM_KEYS},
    }
    atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_npz(path: str | Path) -> SignalSet:
    """Load a data set saved by `save_npz`. Never unpickles; any file that is
    not such a data set gives a UserError naming it."""
    path = Path(path)
    try:
        with open_regular(path, "data set file", MAX_DATA_BYTES) as handle, np.load(handle, allow_pickle=False) as npz:
            missing = [k for k in ("S", "targets", "frequencies", "t", *PARAM_KEYS) if k not in npz.files]
            if missing:
                raise UserError(str(path), f"not a freq-lstm data set (missing {', '.join(missing)})")
            arrays = {k: npz[k] for k in npz.files}
    except UserError:
        raise
    except ValueError as exc:
        if "Object arrays" in str(exc):  # loading it would unpickle
            raise UserError(str(path), "holds Python objects, not plain arrays; refused (never unpickled)") from None
        if "pickled data" in str(exc):  # neither .npz nor .npy: np.load would try pickle
            raise UserError(str(path), "not a readable .npz data set (unknown or pickled data; never unpickled)") from None
        raise UserError(str(path), f"not a readable .npz data set ({exc.__class__.__name__})") from None
    except Exception as exc:  # a truncated, corrupt or foreign file can fail in many ways
        raise UserError(str(path), f"not a readable .npz data set ({exc.__class__.__name__})") from None
    S, targets, freqs, t = arrays["S"], arrays["targets"], arrays["frequencies"], arrays["t"]
    n = t.shape[0] if t.ndim == 1 else -1
    if not (S.ndim == 1 and S.shape[0] == n and freqs.ndim == 1 and targets.shape == (freqs.shape[0], n)):
        raise UserError(str(path), "array shapes do not fit together (S, t, targets, frequencies)")
    numeric = (S, targets, freqs, t, *(arrays[k] for k in PARAM_KEYS))
    if not all(a.dtype.kind in "fiu" for a in numeric) or any(arrays[k].size != 1 for k in PARAM_KEYS):
        raise UserError(str(path), "arrays are not numbers of the expected sizes")
    return SignalSet(
        t=t.astype(np.float64),
        S=S.astype(np.float64),
        targets=targets.astype(np.float64),
        frequencies=freqs.astype(np.float64),
        **{k: (int(arrays[k]) if k == "seed" else float(arrays[k])) for k in PARAM_KEYS},
    )

"""Input ablation: what the model's test MSE becomes when S is taken away.

- S replaced by zeros: the one-hot selector and the state are all it has.
- S shuffled in time (fixed seed): the same values, so the same amplitude
  statistics, but no longer in an order that says anything about time.

A model that reads the targets out of S gets much worse under both. A model
that ignores S and times the waveform from the state reset at t = 0 gives
the same output either way.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .data import SignalSet
from .metrics import mse
from .results import Ablation

SHUFFLE_SEED = 12345  # fixed so that every evaluation of a model is repeatable


def zeroed(signal: SignalSet) -> SignalSet:
    return signal.with_signal(np.zeros_like(signal.S))


def shuffled(signal: SignalSet, seed: int = SHUFFLE_SEED) -> SignalSet:
    order = np.random.default_rng(seed).permutation(signal.n_samples)
    return signal.with_signal(signal.S[order])


def ablation(predict: Callable[[SignalSet], np.ndarray], test: SignalSet, seed: int = SHUFFLE_SEED) -> Ablation:
    """`predict`: the model's output (K, N) for a data set."""
    return Ablation(mse(predict(zeroed(test)), test.targets), mse(predict(shuffled(test, seed)), test.targets), seed)

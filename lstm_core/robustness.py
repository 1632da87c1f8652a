"""How a trained model copes with white noise on its input: the measure that
makes noise augmentation (guide 8.2, `augment_snr_db`) testable. Training
adds the noise in `feeding.add_input_noise`; this adds the same noise to the
test set's S for this one extra measurement, never to the reported test MSE."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .data import SignalSet
from .feeding import add_input_noise
from .metrics import mse
from .results import NoisyInput

DEFAULT_CHECK_SNR_DB = 10.0  # used when the run had no augmentation, so runs can be compared
NOISE_STREAM = 82  # the check's draw: seeded by (test seed, this), one fixed draw per test seed


def with_noise(test: SignalSet, snr_db: float, test_seed: int) -> SignalSet:
    """The test set with white noise on S at `snr_db` (feeding.add_input_noise)."""
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([test_seed, NOISE_STREAM]).generate_state(1)[0]))
    S = torch.from_numpy(np.ascontiguousarray(test.S, dtype=np.float64)).view(1, -1, 1)
    return test.with_signal(add_input_noise(S, snr_db, generator)[0, :, 0].numpy())


def noisy_input_check(predict: Callable[[SignalSet], np.ndarray], test: SignalSet, augment_snr_db: float,
                      test_seed: int) -> NoisyInput:
    """Test MSE with white noise added to the test S at the run's augmentation
    SNR (10 dB when augmentation is off)."""
    snr_db = augment_snr_db or DEFAULT_CHECK_SNR_DB
    return NoisyInput(snr_db, mse(predict(with_noise(test, snr_db, test_seed)), test.targets))

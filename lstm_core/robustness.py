"""How a trained model copes with white noise on its input: the measure that
makes noise augmentation (guide 8.2, `augment_snr_db`) testable. Training
adds the noise in `feeding.add_input_noise`; this adds it to the test set's S only
for this one extra measurement, never to the reported test MSE."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .config import RunConfig
from .data import SignalSet

DEFAULT_CHECK_SNR_DB = 10.0  # used when the run had no augmentation, so runs can be compared


def add_white_noise(S: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """S plus Gaussian noise of power mean(S**2) / 10**(snr_db / 10)."""
    noise_std = np.sqrt(np.mean(S**2) / 10 ** (snr_db / 10))
    return S + noise_std * rng.standard_normal(S.shape)


def noisy_input_check(model: torch.nn.Module, config: RunConfig, test: SignalSet, device: torch.device) -> dict[str, Any]:
    """Test MSE with white noise added to the test S at the run's augmentation
    SNR (10 dB when augmentation is off); one fixed draw per test seed."""
    from .evaluate import predict_signal
    from .metrics import mse

    snr_db = config.augment_snr_db or DEFAULT_CHECK_SNR_DB
    noisy = test.with_signal(add_white_noise(test.S, snr_db, np.random.default_rng([config.test_seed, 82])))
    return {"snr_db": snr_db, "test_mse": mse(predict_signal(model, config, noisy, device), test.targets)}

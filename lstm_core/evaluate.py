"""Run a trained model over data sets and measure it."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import feeding
from .config import RunConfig
from .data import SignalSet
from .metrics import summarise
from .trainer import to_device


def predict_signal(model: torch.nn.Module, config: RunConfig, signal: SignalSet, device: torch.device) -> np.ndarray:
    """Model output for every row of a data set, (K, N), float64."""
    inputs, _ = to_device(signal, device)
    return feeding.predict(model, config, inputs).cpu().numpy().astype(np.float64)


def evaluate(model: torch.nn.Module, config: RunConfig, splits: dict[str, SignalSet], device: torch.device) -> dict[str, Any]:
    predictions = {name: predict_signal(model, config, splits[name], device) for name in ("train", "test")}
    targets = {name: splits[name].targets for name in ("train", "test")}
    return {**summarise(splits["test"].frequencies, predictions, targets), "predictions": predictions}

"""Run a trained model over data sets and measure it: metrics, baselines,
input ablation and the verdict that follows from them."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import feeding
from .ablation import ablation
from .baselines import baselines
from .config import RunConfig
from .data import SignalSet
from .errors import UserError
from .metrics import summarise
from .trainer import to_device
from .verdict import ratio_label, verdict

# Keys of an evaluation that hold arrays and never go into results.json.
ARRAY_KEYS = ("predictions",)


def predict_signal(model: torch.nn.Module, config: RunConfig, signal: SignalSet, device: torch.device) -> np.ndarray:
    """Model output for every row of a data set, (K, N), float64."""
    inputs, _ = to_device(signal, device)
    return feeding.predict(model, config, inputs).cpu().numpy().astype(np.float64)


def check_fits(model: torch.nn.Module, signal: SignalSet, subject: str = "model") -> None:
    """A model's one-hot input has one slot per frequency it was trained on."""
    expected = getattr(model, "n_frequencies", None)
    if expected is not None and expected != signal.n_frequencies:
        raise UserError(subject, f"was trained on {expected} frequencies but the data has {signal.n_frequencies}")


def evaluate(model: torch.nn.Module, config: RunConfig, splits: dict[str, SignalSet], device: torch.device) -> dict[str, Any]:
    """Metrics only: MSE, ratio, per-frequency MSE and correlation."""
    check_fits(model, splits["test"])
    predictions = {name: predict_signal(model, config, splits[name], device) for name in ("train", "test")}
    targets = {name: splits[name].targets for name in ("train", "test")}
    return {**summarise(splits["test"].frequencies, predictions, targets), "predictions": predictions}


def full_evaluation(model: torch.nn.Module, config: RunConfig, splits: dict[str, SignalSet], device: torch.device) -> dict[str, Any]:
    """Everything an evaluation reports. `predictions` holds numpy arrays
    (train, test, bandpass: each (K, N)); use `to_json` to drop them."""
    result = evaluate(model, config, splits, device)
    reference = baselines(splits["train"], splits["test"])
    result["predictions"]["bandpass"] = reference.pop("bandpass_predictions")
    result["baselines"] = reference
    result["ablation"] = ablation(model, config, splits["test"], device)
    result["verdict"] = verdict(result["test_mse"], reference["zero_mse"], result["ablation"]["s_zero_mse"],
                                result["ablation"]["s_shuffled_mse"], reference["bandpass_mse"])
    result["ratio_verdict"] = ratio_label(result["ratio"], result["verdict"]["code"], result["targets_identical"])
    return result


def to_json(result: dict[str, Any]) -> dict[str, Any]:
    """The evaluation without its arrays, ready for results.json."""
    return {k: v for k, v in result.items() if k not in ARRAY_KEYS}

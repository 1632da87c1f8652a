"""The evaluation: run a trained model over the data and measure it (MSE,
per-frequency MSE and correlation, the baselines, the input ablation, the
noisy-input check and the verdict that follows from them) into one typed
`Evaluation`. results.json, the report, the console and the app all read it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import torch

from . import feeding
from .ablation import ablation
from .baselines import bandpass_reference
from .checkpoint import check_matches, load_checkpoint, model_from_checkpoint
from .config import FIELDS, RunConfig
from .data import SignalSet, splits_for
from .device import describe, resolve_device
from .drift import Drift, phase_drift
from .errors import ConfigError, UserError
from .metrics import mse, per_frequency
from .outcome import RunEvaluation
from .results import Results, Scores
from .robustness import noisy_input_check
from .rundir import CONFIG, RunDir
from .trainer import to_device
from .verdict import ratio_label, verdict

# The settings that say which data a model is evaluated on (not how it is fed).
DATA_FIELDS = tuple(name for name, spec in FIELDS.items() if spec.metadata["group"] == "data")


@dataclass(frozen=True)
class Predictions:
    """Outputs on the data, each (K, N), float64."""
    train: np.ndarray  # the model on the training set
    test: np.ndarray  # the model on the test set
    bandpass: np.ndarray  # the band-pass reference on the test set


@dataclass(frozen=True)
class Evaluation:
    config: RunConfig  # the model's settings with the data it was evaluated on
    test: SignalSet
    predictions: Predictions
    scores: Scores

    @cached_property
    def drift(self) -> Drift:
        """Phase error and instantaneous frequency of the output (drift.py)."""
        return phase_drift(self.test.t, self.test.targets, self.predictions.test, self.test.frequencies, self.test.fs)


def predict_signal(model: torch.nn.Module, config: RunConfig, signal: SignalSet, device: torch.device) -> np.ndarray:
    """Model output for every row of a data set, (K, N), float64."""
    inputs, _ = to_device(signal, device)
    return feeding.predict(model, config, inputs).cpu().numpy().astype(np.float64)


def check_fits(model: torch.nn.Module, signal: SignalSet, subject: str = "model") -> None:
    """A model's one-hot input has one slot per frequency it was trained on."""
    expected = getattr(model, "n_frequencies", None)
    if expected is not None and expected != signal.n_frequencies:
        raise UserError(subject, f"was trained on {expected} frequencies but the data has {signal.n_frequencies}")


def evaluate(model: torch.nn.Module, config: RunConfig, splits: dict[str, SignalSet],
             device: torch.device) -> Evaluation:
    """Everything an evaluation measures, on `splits` (train and test)."""
    train, test = splits["train"], splits["test"]
    check_fits(model, test)
    predict = partial(predict_signal, model, config, device=device)
    outputs = {"train": predict(train), "test": predict(test)}
    targets = {"train": train.targets, "test": test.targets}
    train_mse, test_mse = mse(outputs["train"], train.targets), mse(outputs["test"], test.targets)
    ratio = test_mse / train_mse if train_mse > 0 else math.inf
    targets_identical = bool(np.array_equal(train.targets, test.targets))
    baselines, bandpass = bandpass_reference(train, test)
    ablated = ablation(predict, test)
    judged = verdict(test_mse, baselines.zero_mse, ablated.s_zero_mse, ablated.s_shuffled_mse, baselines.bandpass_mse)
    scores = Scores(
        test_mse=test_mse, train_mse=train_mse, ratio=ratio,
        per_frequency=per_frequency(test.frequencies, outputs, targets),
        baselines=baselines, ablation=ablated, verdict=judged,
        ratio_verdict=ratio_label(ratio, judged.code, targets_identical),
        targets_identical=targets_identical,
        noisy_input=noisy_input_check(predict, test, config.augment_snr_db, config.test_seed),
        evaluated_on=describe(device),
    )
    return Evaluation(config, test, Predictions(outputs["train"], outputs["test"], bandpass), scores)


def evaluation_device(config: RunConfig) -> torch.device:
    """The run's device if this machine has it, else the best one it has."""
    try:
        return resolve_device(config.device)
    except ConfigError:
        return resolve_device("auto")


def with_data_of(model_config: RunConfig, data_config: RunConfig) -> RunConfig:
    """The model's own settings (how it is fed) with another run's data fields."""
    return dataclasses.replace(model_config, **{name: getattr(data_config, name) for name in DATA_FIELDS})


def evaluate_checkpoint(checkpoint: Path, data_config: RunConfig, device=None) -> Evaluation:
    """Load a checkpoint and evaluate it on the data `data_config` describes."""
    device = device or evaluation_device(data_config)
    model, model_config, _ = model_from_checkpoint(checkpoint, device)
    config = with_data_of(model_config, data_config)
    splits = splits_for(config)
    check_fits(model, splits["test"], str(checkpoint))
    return evaluate(model, config, splits, device)


def evaluate_run(path: RunDir | str | Path) -> RunEvaluation:
    """Load the run's best.pt and evaluate it again on the run's data."""
    run_dir = path if isinstance(path, RunDir) else RunDir.open(path)
    if not run_dir.best_checkpoint.exists():
        raise UserError(str(run_dir.path), "has no best.pt (no epoch finished in this run)")
    config = run_dir.read_config()
    # A best.pt of another model (copied in, or config.toml edited) is refused,
    # not evaluated under this run's name. The data may differ (evaluate's
    # output directories hold the data they were evaluated on).
    check_matches(load_checkpoint(run_dir.best_checkpoint), config, run_dir.best_checkpoint,
                  run_dir.file(CONFIG), ignore=DATA_FIELDS)
    training = run_dir.training_facts()  # before the evaluation: a damaged results.json is refused at once
    evaluation = evaluate_checkpoint(run_dir.best_checkpoint, config)
    return RunEvaluation(run_dir, evaluation, Results(training, evaluation.scores))

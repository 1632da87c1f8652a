"""Evaluate a run directory for the Evaluate screen (runs on a worker thread).

Loads the best checkpoint, rebuilds the run's data from its config, runs the
core evaluation and keeps the test-set arrays the charts need. Headless: no
Textual here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstm_core.checkpoint import model_from_checkpoint
from lstm_core.config import RunConfig
from lstm_core.data import splits_for
from lstm_core.errors import UserError
from lstm_core.rundir import RunDir


@dataclass
class RunEvaluation:
    run_dir: Path
    config: RunConfig
    status: dict[str, Any]
    results: dict[str, Any]  # metrics without arrays (full_evaluation's keys)
    t: np.ndarray  # (N,) test time axis
    signal: np.ndarray  # (N,) test input S
    targets: np.ndarray  # (K, N) test targets
    predictions: np.ndarray  # (K, N) model output on the test set
    frequencies: np.ndarray  # (K,)
    fs: float


def _evaluate(model, config, splits, device) -> dict[str, Any]:
    """The full evaluation (baselines, ablation, verdict) where the core has
    it, else the basic metrics."""
    try:
        from lstm_core.evaluate import full_evaluation
    except ImportError:
        from lstm_core.evaluate import evaluate as full_evaluation
    return full_evaluation(model, config, splits, device)


def evaluate_run(path: str | Path) -> RunEvaluation:
    run_dir = RunDir.open(path)
    checkpoint = run_dir.best_checkpoint if run_dir.best_checkpoint.is_file() else run_dir.last_checkpoint
    if not checkpoint.is_file():
        raise UserError(str(run_dir.path), "has no checkpoint yet (no epoch finished)")
    import torch

    from lstm_core.evaluate import predict_signal

    device = torch.device("cpu")
    model, config, _ = model_from_checkpoint(checkpoint, device)
    model.eval()
    splits = splits_for(config)
    results = _evaluate(model, config, splits, device)
    predictions = results.pop("predictions", None)
    test = splits["test"]
    if isinstance(predictions, dict):
        predictions = predictions.get("test")
    if not (isinstance(predictions, np.ndarray) and predictions.shape == test.targets.shape):
        with torch.no_grad():
            predictions = predict_signal(model, config, test, device)
    return RunEvaluation(run_dir.path, config, run_dir.read_status(), results, test.t, test.S, test.targets,
                         np.asarray(predictions, dtype=np.float64), test.frequencies, test.fs)


def amplitude_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum: a unit sine at f shows as 1.0 at f."""
    n = x.shape[-1]
    spectrum = np.abs(np.fft.rfft(x)) * 2.0 / n
    return np.fft.rfftfreq(n, 1.0 / fs), spectrum


def fmt(value: Any, digits: int = 5) -> str:
    if value is None:
        return "n/a"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "inf"
    return f"{number:.{digits}f}"

"""Evaluate a run directory for the Evaluate screen (runs on a worker thread).

The core evaluates the run's best checkpoint on its own data; this keeps the
test-set arrays the charts need next to it. Headless: no Textual here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lstm_core.config import RunConfig
from lstm_core.data import generate_for
from lstm_core.drift import Drift, phase_drift
from lstm_core.errors import UserError
from lstm_core.formatting import number
from lstm_core.metrics import amplitude_spectrum  # noqa: F401  (the Evaluate screen draws it)
from lstm_core.report import evaluate_run as core_evaluate_run
from lstm_core.report import export_report
from lstm_core.rundir import RunDir


@dataclass
class RunEvaluation:
    run_dir: Path
    config: RunConfig
    status: dict[str, Any]
    results: dict[str, Any]  # full_evaluation's output, arrays included (export reuses it)
    t: np.ndarray  # (N,) test time axis
    signal: np.ndarray  # (N,) test input S
    targets: np.ndarray  # (K, N) test targets
    predictions: np.ndarray  # (K, N) model output on the test set
    frequencies: np.ndarray  # (K,)
    fs: float

    @cached_property
    def drift(self) -> Drift:
        """Phase error and instantaneous frequency of the output (lstm_core.drift)."""
        return phase_drift(self.t, self.targets, self.predictions, self.frequencies, self.fs)


def evaluate_run(path: str | Path) -> RunEvaluation:
    """Evaluate the run's best.pt again on its own data (lstm_core.report)."""
    run_dir = RunDir.open(path)
    config = run_dir.read_config()
    results = core_evaluate_run(run_dir)
    test = generate_for(config, config.test_seed)
    predictions = np.asarray(results["predictions"]["test"], dtype=np.float64)
    if predictions.shape != test.targets.shape:
        raise UserError(str(run_dir.path), "the predictions do not fit the run's test set (config.toml changed?)")
    return RunEvaluation(run_dir.path, config, run_dir.read_status(), results, test.t, test.S, test.targets,
                         predictions, test.frequencies, test.fs)


def export(evaluation: RunEvaluation) -> list[Path]:
    """report.md, report.html and the PNG figures, written into the run directory."""
    return export_report(evaluation.run_dir, results=evaluation.results)


def fmt(value: Any, digits: int = 5) -> str:
    """Numbers on the Evaluate and Runs screens: five decimals by default."""
    return number(value, digits)

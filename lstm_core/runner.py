"""One training run, start to end: run directory, training, evaluation,
results. Used by the headless command and by the app's worker alike."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .checkpoint import library_versions
from .config import RunConfig
from .device import describe
from .evaluate import full_evaluation, to_json
from .events import EventCallback
from .report import export_report
from .rundir import RunDir
from .trainer import StopFlag, Trainer, TrainResult


@dataclass
class RunOutcome:
    run_dir: RunDir
    training: TrainResult
    results: Optional[dict[str, Any]]  # None when no epoch finished
    report_paths: list[Path] = field(default_factory=list)  # report.md, report.html, the figures
    report_error: Optional[str] = None  # why the report could not be written


REGIME_FIELDS = ("truncation", "batch_size", "carry_state", "sequence_length", "augment", "stream_copies",
                 "curriculum_start", "curriculum_growth", "curriculum_threshold", "updates_per_epoch",
                 "learned_init_state", "chrono_init", "scheduler", "hidden_size", "lr", "seed")


def training_regime(config: RunConfig) -> dict[str, Any]:
    """The settings that say how the model was trained (augmentation,
    curriculum, truncation...), named in results.json and the report."""
    return {name: getattr(config, name) for name in REGIME_FIELDS}


def results_record(config: RunConfig, trainer: Trainer, training: TrainResult, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": training.status,
        "stop_reason": training.message,
        "model": config.model,
        "noise": config.noise,
        "training_regime": training_regime(config),
        "epochs_run": training.epochs_run,
        "best_epoch": training.best_epoch,
        "best_val_loss": training.best_val_loss,
        "train_time_s": training.train_time_s,
        "device": describe(trainer.device),
        "versions": library_versions(),
        **to_json(metrics),
    }


def run_training(
    config: RunConfig,
    *,
    runs_root: str | Path = "runs",
    on_event: Optional[EventCallback] = None,
    stop: Optional[StopFlag] = None,
    run_dir: Optional[RunDir] = None,
) -> RunOutcome:
    run_dir = run_dir or RunDir.create(config, runs_root)
    run_dir.write_config(config)
    run_dir.write_status("running", started=time.time(), model=config.model)
    try:
        trainer = Trainer(config, run_dir, on_event=on_event, stop=stop)
        training = trainer.fit()
    except BaseException as exc:
        run_dir.write_status("failed", message=f"{exc.__class__.__name__}: {exc}")
        raise
    results, report_paths, report_error = None, [], None
    if training.epochs_run > 0:
        metrics = full_evaluation(trainer.model, config, trainer.splits, trainer.device)
        results = results_record(config, trainer, training, metrics)
        run_dir.write_results(results)
        try:
            report_paths = export_report(run_dir, {**results, "predictions": metrics["predictions"]})
        except Exception as exc:  # the run and its results stand even if drawing fails
            report_error = f"report not written: {exc.__class__.__name__}: {exc}"
    run_dir.write_status(training.status, message=training.message, test_mse=(results or {}).get("test_mse"),
                         verdict=(results or {}).get("verdict", {}).get("code"), report_error=report_error)
    return RunOutcome(run_dir, training, results, report_paths, report_error)

"""One training run, start to end: run directory, training, evaluation,
results. Used by the headless command and by the app's worker alike."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from .checkpoint import check_matches, load_checkpoint, library_versions, save_checkpoint
from .config import RunConfig
from .device import check_environment, describe
from .errors import UserError
from .data import splits_for
from .evaluation import evaluate as evaluate_model
from .events import EventCallback, RunEnded, subscribers
from .metrics_log import MetricsLog
from .outcome import RunOutcome
from .precision import applied as applied_precision
from .report import export_report
from .results import Results, TrainingFacts
from .rundir import CONFIG, RunDir
from .status import RunStatus
from .sysmon import summarise
from .tensorboard_log import with_tensorboard
from .trainer import StopFlag, Trainer


REGIME_FIELDS = ("truncation", "batch_size", "carry_state", "sequence_length", "augment",
                 "curriculum_start", "curriculum_growth", "curriculum_threshold", "curriculum_lr_min",
                 "updates_per_epoch",
                 "chrono_init", "scheduler", "cosine_epochs", "ema_decay", "hidden_size", "lr", "seed")


def training_regime(config: RunConfig) -> dict[str, Any]:
    """The settings that say how the model was trained (augmentation,
    curriculum, truncation...), named in results.json and the report."""
    return {name: getattr(config, name) for name in REGIME_FIELDS}


def training_facts(config: RunConfig, trainer: Trainer, training: RunEnded) -> TrainingFacts:
    return TrainingFacts(
        status=training.status,
        stop_reason=training.message,
        epochs_run=training.epochs_run,
        best_epoch=training.best_epoch,
        best_val_loss=training.best_val_loss,
        train_time_s=training.train_time_s,
        model=config.model,
        noise=config.noise,
        training_regime=training_regime(config),
        augment_snr_db=config.augment_snr_db,
        target=trainer.target_record(training.status),  # the target stop (None when target_mse = 0)
        device=describe(trainer.device),
        # what the training arithmetic was on this device (tf32 is fp32 off CUDA)
        precision=applied_precision(config.precision, trainer.device),
        cuda_graphs=trainer.graphed is not None,  # why not: trainer.eager_reason
        versions=library_versions(),
        system=summarise(training.history, trainer.system.gpu_reason()),
    )


def run_training(
    config: RunConfig,
    *,
    runs_root: str | Path = "runs",
    on_event: Optional[EventCallback] = None,
    stop: Optional[StopFlag] = None,
    run_dir: Optional[RunDir] = None,
    evaluate: bool = True,
) -> RunOutcome:
    """Train `config` in a new run directory (or `run_dir`, made by
    RunDir.create), then, with `evaluate`, evaluate the best weights on the
    test set and write results.json and the report. `evaluate=False` trains
    only: status.json ends with the training's status and nothing reads the
    test set."""
    if run_dir is None:
        check_environment(config)  # nothing is created for a run this machine cannot do
        run_dir = RunDir.create(config, runs_root)
    try:
        return _train_in(run_dir, config, _subscribers(run_dir, config, on_event), stop, evaluate=evaluate)
    finally:
        run_dir.release()


def resume_training(
    path: str | Path,
    *,
    on_event: Optional[EventCallback] = None,
    stop: Optional[StopFlag] = None,
) -> RunOutcome:
    """Continue an interrupted (or killed) run in its own directory, with the
    config it was started with, from the end of its last whole epoch."""
    run_dir = RunDir.open(path)
    config = run_dir.read_config()
    run_dir.check_resumable()
    check_environment(config)
    run_dir.acquire()
    try:
        on_event = _subscribers(run_dir, config, on_event)
        trainer = Trainer(config, run_dir, on_event=on_event, stop=stop)
        if run_dir.last_checkpoint.exists():
            _load_last(run_dir, config, trainer)
        # else: killed before its first epoch ended; it starts from scratch.
        run_dir.rewrite_metrics(trainer.history)
        run_dir.write_status(RunStatus.RUNNING, resumed_from_epoch=trainer.epoch, message=f"resumed from epoch {trainer.epoch}")
        return _train_in(run_dir, config, on_event, stop, trainer)
    finally:
        run_dir.release()


def _subscribers(run_dir: RunDir, config: RunConfig, on_event: Optional[EventCallback]) -> EventCallback:
    """Who hears a run's events: metrics.jsonl first, then TensorBoard (with
    `tensorboard = true`), then the caller's `on_event`."""
    return subscribers(MetricsLog(run_dir), with_tensorboard(config.tensorboard, run_dir.path, on_event))


def _load_last(run_dir: RunDir, config: RunConfig, trainer: Trainer) -> None:
    last = run_dir.last_checkpoint
    payload = load_checkpoint(last)
    check_matches(payload, config, last, run_dir.file(CONFIG))
    if not payload["training_state"]:
        raise UserError(str(last), "holds no training state to resume from")
    try:
        trainer.load_training_state(payload)
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError):
        raise UserError(str(last), "training state is damaged or does not fit this model") from None
    if trainer.best_epoch and trainer.best_state is None:
        raise UserError(str(last), "holds no best weights although it names a best epoch")
    # A kill between the writes of best.pt and last.pt leaves best.pt one
    # epoch ahead of last.pt: put back the best.pt that last.pt describes.
    best_epoch_on_disk = None
    if run_dir.best_checkpoint.exists():
        try:
            best_epoch_on_disk = load_checkpoint(run_dir.best_checkpoint)["epoch"]
        except UserError:
            pass  # damaged: rewritten below
    if trainer.best_epoch and best_epoch_on_disk != trainer.best_epoch:
        save_checkpoint(run_dir.best_checkpoint, model=trainer.model, model_state=trainer.best_state, config=config,
                        n_frequencies=trainer.n_frequencies, epoch=trainer.best_epoch,
                        training_state=trainer.training_state())


def _mark_stopped(run_dir: RunDir, exc: BaseException) -> None:
    """Record why a run ended early, if the disk still lets us."""
    status = RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
    try:
        run_dir.write_status(status, message=f"{exc.__class__.__name__}: {exc}")
    except (UserError, OSError):
        pass


def _train_in(
    run_dir: RunDir,
    config: RunConfig,
    on_event: Optional[EventCallback],
    stop: Optional[StopFlag],
    trainer: Optional[Trainer] = None,
    evaluate: bool = True,
) -> RunOutcome:
    run_dir.write_config(config)
    if trainer is None:
        run_dir.write_status(RunStatus.RUNNING, started=time.time(), model=config.model)
    try:
        trainer = trainer or Trainer(config, run_dir, on_event=on_event, stop=stop,
                                     splits=None if evaluate else splits_for(config, with_test=False))
        training = trainer.fit()
    except BaseException as exc:
        _mark_stopped(run_dir, exc)
        raise
    results, report_paths, report_error, evaluation = None, [], None, None
    if evaluate and training.epochs_run > 0:
        evaluation = evaluate_model(trainer.model, config, trainer.splits, trainer.device)
        results = Results(training_facts(config, trainer, training), evaluation.scores)
        run_dir.write_results(results)
        try:
            report_paths = export_report(run_dir, evaluation, results.training, trainer.history)
        except Exception as exc:  # the run and its results stand even if drawing fails
            report_error = f"report not written: {exc.__class__.__name__}: {exc}"
    run_dir.write_status(training.status, message=training.message,
                         test_mse=results.scores.test_mse if results else None,
                         verdict=results.scores.verdict.code if results else None, report_error=report_error)
    return RunOutcome(run_dir, training, results, report_paths, report_error, evaluation)

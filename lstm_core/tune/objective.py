"""One trial: the base settings with the trial's values, trained on each of
the study's seed sets (model seed, validation seed) with evaluation off, so
no test set is ever drawn. Its value is the median (or worst) best
validation MSE over the sets, or with `time` the median time to the target
stop, under the constraint that every set reached the target.

Each epoch's validation loss goes to the pruner (trial.report); when it says
prune, the run stops at once and the trial is recorded as pruned.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ..config import RunConfig, build_config
from ..errors import ConfigError
from ..events import EpochEnd
from ..status import RunStatus
from ..stopping import StopFlag

OBJECTIVES = ("median", "worst", "time")
# The seed sets trials are scored on; confirmation uses others (confirm.py).
TRIAL_SEED = 1000
TRIAL_VAL_SEED = 2000


def trial_seeds(k: int) -> list[dict[str, int]]:
    return [{"seed": TRIAL_SEED + i, "val_seed": TRIAL_VAL_SEED + i} for i in range(k)]


def trial_run_dir(out: Path, number: int, k: int) -> Path:
    """A trial's run on seed set k: a run directory right in the study
    directory, so `freq-tui runs --runs-root STUDY` lists it."""
    return out / f"trial-{number:04d}-set-{k}"


class TrialStop(StopFlag):
    """Stops a trial's run when the pruner says so, on the worker's stop
    (Ctrl+C, SIGTERM) or once the trial's time budget is spent; `cause`
    says which (the run itself ends cancelled or interrupted, as any stopped
    run does, and can be resumed)."""

    def __init__(self, outer: StopFlag, deadline: Optional[float]):
        super().__init__()
        self.outer = outer
        self.deadline = deadline
        self.cause: Optional[str] = None  # "pruned", "over_budget" or "stopped"

    def prune(self) -> None:
        self.cause = "pruned"
        self.request(RunStatus.CANCELLED)

    def is_set(self) -> bool:
        if self._event.is_set():
            return True
        if self.outer.is_set():
            self.cause = "stopped"
            self.request(self.outer.reason)
            return True
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cause = "over_budget"
            self.request(RunStatus.CANCELLED)
            return True
        return False


@dataclass
class TrialResult:
    state: str  # complete, pruned, fail
    value: Optional[float]
    attrs: dict[str, Any]
    constraints: Optional[list[float]] = None
    stopped: bool = False  # the worker was asked to stop


def trial_config(base: dict[str, Any], params: dict[str, Any], seeds: dict[str, int], run_dir: Path) -> RunConfig:
    return build_config(base, params, seeds, {"run_dir": str(run_dir), "run_name": ""})


def run_trial(trial, base: dict[str, Any], out: Path, seed_sets: int, objective: str, stop: StopFlag,
              budget_s: Optional[float] = None, emit: Callable[[dict], None] = lambda update: None) -> TrialResult:
    """Train the trial's config on every seed set; what to tell the study."""
    from ..api import start_run

    params = dict(trial.params)
    deadline = time.monotonic() + budget_s if budget_s else None
    per_set: list[dict[str, Any]] = []
    attrs: dict[str, Any] = {"sets": per_set}
    epochs_per_set = int(base.get("epochs", RunConfig.epochs))
    for k, seeds in enumerate(trial_seeds(seed_sets)):
        run_dir = trial_run_dir(out, trial.number, k)
        try:
            config = trial_config(base, params, seeds, run_dir)
        except ConfigError as exc:
            attrs["failed_because"] = f"refused: {exc}"
            return TrialResult("fail", None, attrs)
        run_stop = TrialStop(stop, deadline)

        def on_event(event, k=k, run_stop=run_stop) -> None:
            if isinstance(event, EpochEnd):
                record = event.record
                emit({"trial": trial.number, "set": k, "epoch": record.epoch, "val_loss": record.val_loss})
                trial.report(record.val_loss, k * epochs_per_set + record.epoch)
                if trial.should_prune():
                    run_stop.prune()

        outcome = start_run(config, on_event=on_event, stop=run_stop, evaluate=False)
        training = outcome.training
        target = _target(config, training)
        per_set.append({"run": str(run_dir), **seeds, "status": str(training.status), "epochs": training.epochs_run,
                        "best_val_mse": training.best_val_loss, "train_time_s": training.train_time_s, **target})
        attrs["train_time_s"] = sum(row["train_time_s"] for row in per_set)
        if run_stop.cause == "pruned":
            return TrialResult("pruned", None, {**attrs, "pruned_at": f"set {k}, epoch {training.epochs_run + 1}"})
        if run_stop.cause == "over_budget":
            return TrialResult("pruned", None, {**attrs, "pruned_at": f"over its budget of {budget_s:g} s"})
        if run_stop.cause == "stopped" or RunStatus(training.status).stopped:
            attrs["failed_because"] = "stopped (Ctrl+C or a signal) before its end"
            return TrialResult("fail", None, attrs, stopped=True)
        if not math.isfinite(training.best_val_loss):
            attrs["failed_because"] = f"set {k}: {training.message}"
            return TrialResult("fail", None, attrs)
    return _score(per_set, attrs, objective)


def _target(config: RunConfig, training) -> dict[str, Any]:
    """Whether the run made its target stop, and the training time to its stop."""
    reached = training.status == RunStatus.TARGET_REACHED
    time_to_stop = sum(r.epoch_time for r in training.history)
    # How far it stayed from the target: 0 where it got there (<= 0 is feasible).
    shortfall = 0.0 if reached else max(training.best_val_loss - config.target_mse, 1e-9)
    return {"reached": reached, "time_to_stop_s": time_to_stop, "shortfall": shortfall}


def _score(per_set: list[dict[str, Any]], attrs: dict[str, Any], objective: str) -> TrialResult:
    vals = [row["best_val_mse"] for row in per_set]
    attrs.update(val_mse_median=statistics.median(vals), val_mse_worst=max(vals),
                 reached=sum(row["reached"] for row in per_set))
    if objective == "time":
        # feasible (<= 0) on a set only where it reached the target stop
        constraints = [row["shortfall"] for row in per_set]
        value = statistics.median(row["time_to_stop_s"] for row in per_set)
        return TrialResult("complete", value, attrs, constraints)
    return TrialResult("complete", attrs["val_mse_worst" if objective == "worst" else "val_mse_median"], attrs)

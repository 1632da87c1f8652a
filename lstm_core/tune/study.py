"""A study: its settings (what a worker needs, sent to each worker process),
the Optuna study it opens or creates, and the loop each worker runs: under
the ask lock, fail the stale trials, stop once the study holds `trials`
trials that did not fail, else ask for one; train it; tell the result.

The study records its space, base settings, objective and seed sets; a
process that opens it with others is refused (one line, exit 2), so a
study never mixes trials of two questions.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..config import without_run_place
from ..errors import UserError
from ..status import RunStatus
from ..stopping import StopFlag
from .objective import TrialResult, run_trial
from .space import Space, space_json
from .storage import ask_lock, claim, fail_stale, heartbeat, open_storage, shown_url

DEFAULT_STUDY = "freq-lstm"
IDENTITY = ("space", "base", "objective", "seed_sets")


@dataclass(frozen=True)
class StudySpec:
    out: str
    storage: str  # "" = the journal file in out
    study_name: str
    base: dict[str, Any] = field(repr=False)  # the validated base settings (RunConfig.to_dict())
    space: Space
    objective: str = "median"
    seed_sets: int = 3
    trials: int = 20
    trial_budget_s: Optional[float] = None
    heartbeat_s: float = 10.0
    pruner: str = "median"

    @property
    def out_path(self) -> Path:
        return Path(self.out)

    def identity(self) -> dict[str, str]:
        return {"space": space_json(self.space), "base": json.dumps(without_run_place(self.base), sort_keys=True),
                "objective": self.objective, "seed_sets": str(self.seed_sets)}


def make_sampler(spec: StudySpec, seed: Optional[int] = None):
    import optuna

    # constant_liar: trials running in other workers count as if they had
    # scored badly, so J workers do not all sample the same corner. With
    # the time objective each trial carries one constraint per seed set
    # (tell), which the TPE sampler reads (constrained TPE).
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                      n_startup_trials=min(10, max(4, spec.trials // 4)))


def make_pruner(spec: StudySpec):
    import optuna

    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=warmup_epochs(spec.base["epochs"]))


def warmup_epochs(epochs: int) -> int:
    """The epoch of a trial's first seed set before whose end it is never
    pruned: a tenth of its schedule (at least 3). The first epochs of a long
    schedule say little about its end: in a study of 200-epoch runs the
    validation MSE at epoch 4 did not order where the trials ended, and a
    pruner from epoch 3 pruned 9 trials in a row there (docs/tune.md)."""
    return max(3, epochs // 10)


def open_study(spec: StudySpec, *, create: bool, seed: Optional[int] = None, pruner=None):
    """The study, created if `create` and missing. Raises UserError for an
    unreachable storage or a study of another space, objective or base."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(spec.storage, spec.out_path)
    where = shown_url(spec.storage) if spec.storage else str(spec.out_path)
    sampler, pruner = make_sampler(spec, seed), pruner or make_pruner(spec)
    try:
        if create:
            study = optuna.create_study(storage=storage, study_name=spec.study_name, direction="minimize",
                                        sampler=sampler, pruner=pruner, load_if_exists=True)
        else:
            study = optuna.load_study(storage=storage, study_name=spec.study_name, sampler=sampler, pruner=pruner)
    except KeyError:
        raise UserError("--study", f"no study named {spec.study_name!r} in {where}") from None
    except UserError:
        raise
    except Exception as exc:  # the database went away between connecting and now
        raise UserError("--storage", f"cannot use {where}: {exc.__class__.__name__}: {exc}") from None
    recorded = study.user_attrs
    for key, value in spec.identity().items():
        if key not in recorded:
            study.set_user_attr(key, value)
        elif recorded[key] != value:
            raise UserError("--study", f"{spec.study_name!r} in {where} was made with another {key.replace('_', ' ')} "
                                       f"({_difference(key, recorded[key], value)}); choose another --out or --study")
    return study


def _difference(key: str, old: str, new: str) -> str:
    if key in ("objective", "seed_sets"):
        return f"{old}, not {new}"
    old_v, new_v = json.loads(old), json.loads(new)
    if key == "base":
        names = sorted(k for k in set(old_v) | set(new_v) if old_v.get(k) != new_v.get(k))
        return "settings differ: " + ", ".join(names[:4])
    old_n = {d["name"]: d for d in old_v}
    new_n = {d["name"]: d for d in new_v}
    names = sorted(n for n in set(old_n) | set(new_n) if old_n.get(n) != new_n.get(n))
    return "differs in " + ", ".join(names[:4])


def counted(study) -> int:
    """Trials that count toward --trials: every one but the failed."""
    import optuna

    return sum(1 for t in study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.FAIL)


def tell(study, trial, result: TrialResult) -> None:
    import optuna

    for key, value in result.attrs.items():
        trial.set_user_attr(key, value)
    for k, shortfall in enumerate(result.constraints or ()):
        trial.set_constraint(f"set {k} reaches the target", shortfall)  # <= 0: feasible
    state = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED,
             "fail": optuna.trial.TrialState.FAIL}[result.state]
    study.tell(trial, result.value if result.state == "complete" else None, state=state)


def study_worker(spec: StudySpec, emit: Callable[[dict], None], stop: StopFlag, *, seed: Optional[int] = None,
                 pruner=None) -> tuple[RunStatus, str, int]:
    """One worker: trials until the study holds spec.trials of them or a stop."""
    study = open_study(spec, create=False, seed=seed, pruner=pruner)
    distributions = {d.name: d.distribution() for d in spec.space}
    done = 0
    while not stop.is_set():
        with ask_lock(spec.out_path):
            for number in fail_stale(study, spec.heartbeat_s):
                emit({"trial": number, "state": "fail", "note": "its process stopped"})
            if counted(study) >= spec.trials:
                break
            trial = study.ask(distributions)
            claim(study, trial._trial_id)
        emit({"trial": trial.number, "state": "running", "params": dict(trial.params)})
        with heartbeat(study, trial._trial_id, spec.heartbeat_s):
            try:
                result = run_trial(trial, spec.base, spec.out_path, spec.seed_sets, spec.objective, stop,
                                   spec.trial_budget_s, emit)
            except BaseException as exc:
                result = TrialResult("fail", None, {"failed_because": f"{exc.__class__.__name__}: {exc}"})
                tell(study, trial, result)
                raise
            tell(study, trial, result)
        emit({"trial": trial.number, "state": result.state, "value": result.value,
              "train_time_s": result.attrs.get("train_time_s"), "note": result.attrs.get("failed_because")
              or result.attrs.get("pruned_at") or ""})
        done += 1
        if result.stopped:
            break
    return (RunStatus.INTERRUPTED if stop.is_set() else RunStatus.FINISHED), f"{done} trials in process {os.getpid()}", done


def parallel_worker(arg: tuple[StudySpec, int], emit, stop) -> tuple[RunStatus, str, int]:
    """study_worker in a worker process of parallel.py (arg: spec, worker index)."""
    spec, index = arg
    return study_worker(spec, emit, stop, seed=None if index < 0 else index + os.getpid())

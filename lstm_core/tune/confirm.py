"""The study's answer checked on data it never saw: the best config and the
base config each trained, evaluated and reported on N fresh seed sets (new
model, validation and test seeds; the config's own training data). The only
place a study reads a test set. Run directories go in the study directory,
STUDY/confirm-NNNN-{best,base}-set-j; ones that already hold results of the
same settings (another process confirmed the same trial) are read, not
trained again."""
from __future__ import annotations

import contextlib
import fcntl
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ..config import build_config, without_run_place
from ..errors import UserError
from ..files import check_real_folder, open_own_file
from ..formatting import mse
from ..rundir import RunDir

# New model, validation and test seeds; the training data stays the config's
# (a preset is trained on its own data, and so is what confirms it).
CONFIRM_SEEDS = {"seed": 3000, "val_seed": 5000, "test_seed": 6000}


def confirm_seeds(n: int) -> list[dict[str, int]]:
    return [{name: start + j for name, start in CONFIRM_SEEDS.items()} for j in range(n)]


@contextlib.contextmanager
def _lock(path: Path):
    fd = open_own_file(path, os.O_RDWR | os.O_CREAT, 0o644)  # never through a link
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class ConfirmRun:
    """One confirmation run: its seeds and what it measured."""
    seeds: dict[str, int]  # seed, val_seed, test_seed
    status: str
    epochs: int
    test_mse: float
    train_time_s: float
    reached: Optional[bool]  # the target stop, where the config has one
    time_to_stop_s: Optional[float]

    @property
    def stop_s(self) -> float:
        """Seconds to the target stop, or the whole training where there was none."""
        return self.time_to_stop_s if self.time_to_stop_s is not None else self.train_time_s


@dataclass(frozen=True)
class Confirmation:
    """One config's confirmation runs, set by set, and their median and worst."""
    runs: tuple[ConfirmRun, ...]

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def test_mse_median(self) -> float:
        return statistics.median(r.test_mse for r in self.runs)

    @property
    def test_mse_worst(self) -> float:
        return max(r.test_mse for r in self.runs)

    @property
    def stop_median_s(self) -> float:
        return statistics.median(r.stop_s for r in self.runs)

    @property
    def epochs_median(self) -> float:
        return statistics.median(r.epochs for r in self.runs)

    @property
    def reached(self) -> int:
        return sum(1 for r in self.runs if r.reached)


def _run(results, seeds: dict[str, int]) -> ConfirmRun:
    target = results.training.target or {}
    return ConfirmRun(dict(seeds), results.training.status, results.training.epochs_run, results.scores.test_mse,
                      results.training.train_time_s, target.get("reached"), target.get("time_to_stop_s"))


def _finished_run(run_dir: Path, config):
    """The results of a confirmation run already trained with exactly this
    config (another process confirmed the same trial), else None."""
    if not run_dir.is_dir():
        return None
    run = RunDir(run_dir)
    try:
        saved = run.read_config()
    except UserError:  # no config.toml yet, or one that no longer loads
        return None
    same = without_run_place(saved.to_dict()) == without_run_place(config.to_dict())
    return run.read_results() if same else None


def run_confirm(out: Path, trial_number: int, configs: dict[str, dict[str, Any]], n: int, jobs: int,
                stop, on_line: Callable[[str], None] = print) -> dict[str, Confirmation]:
    """configs: {"best": settings, "base": settings}. Returns {label: Confirmation}."""
    from ..parallel import JobReport, run_parallel
    from ..repeats import train_job

    with _lock(out / "confirm.lock"):
        todo, rows = [], {label: {} for label in configs}
        # set by set, the configs side by side: J at once, both see the same load
        for j, seeds in enumerate(confirm_seeds(n)):
            for label, settings in configs.items():
                run_dir = out / f"confirm-{trial_number:04d}-{label}-set-{j}"
                if run_dir.is_symlink() or run_dir.exists():
                    check_real_folder(run_dir, "a confirmation run")  # never read or removed through a link
                config = build_config(settings, seeds, {"run_dir": str(run_dir), "run_name": ""})
                results = _finished_run(run_dir, config)
                if results is not None:
                    rows[label][j] = _run(results, seeds)
                    continue
                if run_dir.exists():  # stopped part way, or trained from other settings: it starts again
                    import shutil

                    shutil.rmtree(run_dir)
                todo.append((label, j, seeds, config))
        labels = [f"{label} set {j}" for label, j, _, _ in todo]
        if jobs > 1 and len(todo) > 1:
            reports = run_parallel(train_job, [c for *_, c in todo], labels, jobs, stop.is_set)
        else:
            reports = []
            for index, (*_, config) in enumerate(todo):
                if stop.is_set():
                    break
                status, message, value = train_job(config, lambda update: None, stop)
                reports.append(JobReport(index, labels[index], status, message, value))
        for (label, j, seeds, config), report in zip(todo, reports):
            results = report.value.results if report.value is not None else None
            if results is not None:
                rows[label][j] = _run(results, seeds)
                on_line(f"confirm {label} set {j}: test MSE {mse(results.scores.test_mse)}, "
                        f"{results.training.epochs_run} epochs, {results.training.train_time_s:.1f} s training")
            else:
                on_line(f"confirm {label} set {j}: {report.status} ({report.message})")
    return {label: Confirmation(tuple(by_set[j] for j in sorted(by_set))) for label, by_set in rows.items()}

"""The study's answer checked on data it never saw: the best config and the
base config each trained, evaluated and reported on N fresh seed sets (new
model, training, validation and test seeds). The only place a study reads a
test set. Run directories go in the study directory, STUDY/confirm-NNNN-{best,base}-set-j;
ones that already hold results (another process confirmed the same trial)
are read, not trained again."""
from __future__ import annotations

import contextlib
import fcntl
import os
import statistics
from pathlib import Path
from typing import Any, Callable

from ..config import build_config
from ..errors import UserError
from ..files import open_own_file
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


def _row(results, seeds: dict[str, int], run_dir: Path) -> dict[str, Any]:
    target = results.training.target or {}
    return {**seeds, "run": str(run_dir), "status": results.training.status, "epochs": results.training.epochs_run,
            "test_mse": results.scores.test_mse,
            "worst_frequency_mse": results.scores.worst_frequency_mse, "train_time_s": results.training.train_time_s,
            "reached": target.get("reached"), "time_to_target_s": target.get("time_to_target_s"),
            "time_to_stop_s": target.get("time_to_stop_s")}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"n": 0}
    test = [r["test_mse"] for r in rows]
    stop = [r["time_to_stop_s"] if r["time_to_stop_s"] is not None else r["train_time_s"] for r in rows]
    return {"n": len(rows), "test_mse_median": statistics.median(test), "test_mse_worst": max(test),
            "time_to_stop_median_s": statistics.median(stop),
            "epochs_median": statistics.median(r["epochs"] for r in rows), "train_time_median_s":
            statistics.median(r["train_time_s"] for r in rows),
            "reached": sum(1 for r in rows if r["reached"])}


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
    return run.read_results() if _settings(saved) == _settings(config) else None


def _settings(config) -> dict[str, Any]:
    return {k: v for k, v in config.to_dict().items() if k not in ("run_dir", "run_name")}


def run_confirm(out: Path, trial_number: int, configs: dict[str, dict[str, Any]], n: int, jobs: int,
                stop, on_line: Callable[[str], None] = print) -> dict[str, Any]:
    """configs: {"best": settings, "base": settings}. Returns {label: {"rows", "summary"}}."""
    from ..parallel import JobReport, run_parallel
    from ..repeats import train_job

    with _lock(out / "confirm.lock"):
        todo, rows = [], {label: {} for label in configs}
        # set by set, the configs side by side: J at once, both see the same load
        for j, seeds in enumerate(confirm_seeds(n)):
            for label, settings in configs.items():
                run_dir = out / f"confirm-{trial_number:04d}-{label}-set-{j}"
                config = build_config(settings, seeds, {"run_dir": str(run_dir), "run_name": ""})
                results = _finished_run(run_dir, config)
                if results is not None:
                    rows[label][j] = _row(results, seeds, run_dir)
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
                rows[label][j] = _row(results, seeds, Path(config.run_dir))
                on_line(f"confirm {label} set {j}: test MSE {mse(results.scores.test_mse)}, "
                        f"{results.training.epochs_run} epochs, {results.training.train_time_s:.1f} s training")
            else:
                on_line(f"confirm {label} set {j}: {report.status} ({report.message})")
    return {label: {"rows": [by_set[j] for j in sorted(by_set)], "summary": summary(list(by_set.values()))}
            for label, by_set in rows.items()}

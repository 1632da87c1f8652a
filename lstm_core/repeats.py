"""`freq-tui train --repeats N [--jobs J]`: one configuration trained with N
seeds (J at once, see parallel.py), one run directory per seed under a parent
directory, and the mean, median, standard deviation and worst seed of every
metric across the seeds."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .config import RunConfig, check_repeats
from .errors import UserError
from .files import atomic_write_json, atomic_write_text, check_real_folder, ensure_folder
from .parallel import JobReport, progress_events, run_parallel, spread_devices
from .results import Results, Scores
from .rundir import claim_new_path, timestamped

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"

# (label, the metric in a run's scores)
METRICS: tuple[tuple[str, Callable[[Scores], float]], ...] = (
    ("train MSE", lambda s: s.train_mse),
    ("test MSE", lambda s: s.test_mse),
    ("test/train ratio", lambda s: s.ratio),
    ("zero predictor MSE", lambda s: s.baselines.zero_mse),
    ("band-pass reference MSE", lambda s: s.baselines.bandpass_mse),
    ("test MSE, S zeroed", lambda s: s.ablation.s_zero_mse),
    ("test MSE, S shuffled", lambda s: s.ablation.s_shuffled_mse),
)


def make_parent(config: RunConfig, runs_root: str | Path, repeats: int) -> Path:
    """`config.run_dir` if given (must not exist or be empty), else a new
    runs_root/<timestamp>-<model>-x<N>."""
    if config.run_dir:
        path = Path(config.run_dir)
        if path.is_symlink():
            check_real_folder(path, "run directory")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UserError(str(path), "run directory already exists and is not empty (choose a new --run-dir)")
        return ensure_folder(path, "run directory", mode=0o700)
    root = Path(runs_root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(str(root), f"cannot create runs directory ({exc.strerror})") from None
    def made(path: Path) -> Path:
        path.mkdir(mode=0o700)  # private, as every run directory
        return path

    return claim_new_path(root, timestamped(f"{config.model}-x{repeats}"), made)


def seed_configs(config: RunConfig, parent: Path, repeats: int) -> list[RunConfig]:
    """Seeds config.seed, config.seed + 1, ...; only the seed and the run
    directory differ between the runs."""
    return [dataclasses.replace(config, seed=config.seed + i, run_dir=str(parent / f"seed-{config.seed + i}"))
            for i in range(repeats)]


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean, median and sample standard deviation (ddof 1; 0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"mean": float(array.mean()), "median": float(np.median(array)), "std": std, "n": int(array.size)}


def aggregate(results: list[Results], seeds: list[int]) -> dict[str, Any]:
    """Mean ± std (and median) of each metric over the runs that produced
    results, the worst seed by test MSE and each seed's own figures."""
    scores = [r.scores for r in results]
    metrics = {label: mean_std([float(get(s)) for s in scores]) for label, get in METRICS}
    per_seed = [{"seed": seed, "status": r.training.status, "test_mse": r.scores.test_mse,
                 "verdict": r.scores.verdict.code, "worst_frequency_mse": r.scores.worst_frequency_mse,
                 "train_time_s": r.training.train_time_s,
                 "time_to_target_s": (r.training.target or {}).get("time_to_target_s")}
                for r, seed in zip(results, seeds)]
    per_frequency = [{"hz": row.hz,
                      "test_mse": mean_std([s.per_frequency[k].test_mse for s in scores]),
                      "correlation": mean_std([s.per_frequency[k].correlation for s in scores])}
                     for k, row in enumerate(scores[0].per_frequency)]
    return {
        "seeds": seeds,
        "metrics": metrics,
        "worst_seed": max(per_seed, key=lambda row: row["test_mse"]),
        "per_seed": per_seed,
        "per_frequency": per_frequency,
        "verdicts": dict(Counter(s.verdict.code for s in scores)),
    }


def _pm(stats: dict[str, float], digits: int = 6) -> str:
    if not math.isfinite(stats["mean"]):
        return "n/a"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def summary_markdown(summary: dict[str, Any]) -> str:
    worst = summary["worst_seed"]
    lines = [f"# Repeats: {len(summary['seeds'])} seeds ({', '.join(map(str, summary['seeds']))})", "",
             "Mean ± sample standard deviation across seeds, and the median.", "",
             "| metric | mean ± std | median |", "| --- | --- | --- |"]
    lines += [f"| {label} | {_pm(stats)} | {stats['median']:.6f} |" for label, stats in summary["metrics"].items()]
    lines += ["", f"Worst seed: {worst['seed']} (test MSE {worst['test_mse']:.6f}, worst frequency "
                  f"{worst['worst_frequency_mse']:.6f}, verdict {worst['verdict']})"]
    lines += [f"Not in the summary: seed {row['seed']} ({row['status']}: {row['message']})"
              for row in summary.get("missing", [])]
    lines += ["", "| Hz | test MSE | correlation |", "| --- | --- | --- |"]
    lines += [f"| {row['hz']:g} | {_pm(row['test_mse'])} | {_pm(row['correlation'], 4)} |"
              for row in summary["per_frequency"]]
    lines += ["", "Verdicts: " + ", ".join(f"{code} × {n}" for code, n in summary["verdicts"].items()), ""]
    return "\n".join(lines)


def write_summary(parent: Path, summary: dict[str, Any]) -> None:
    atomic_write_json(parent / SUMMARY_JSON, summary)
    atomic_write_text(parent / SUMMARY_MD, summary_markdown(summary))


def train_job(config: RunConfig, emit: Callable[[dict], None], stop) -> tuple[str, str, dict[str, Any]]:
    """One seed in its own process (parallel.py): train, evaluate, and send
    the epochs as they end."""
    from .runner import run_training

    outcome = run_training(config, on_event=progress_events(emit), stop=stop)
    return outcome.training.status, outcome.training.message, {"results": outcome.results,
                                                               "run_dir": str(outcome.run_dir.path)}


def run_repeats(config: RunConfig, repeats: int, runs_root: str | Path, jobs: int,
                run_one: Callable[[RunConfig], JobReport], should_stop: Callable[[], bool] = lambda: False,
                on_update: Callable[[int, dict], None] = lambda index, update: None,
                on_done: Callable[[JobReport], None] = lambda report: None,
                ) -> tuple[Path, Optional[dict[str, Any]], list[JobReport]]:
    """Train each seed: in this process with `run_one(config) -> JobReport`
    when jobs = 1 (stopping early when `should_stop()`), else `jobs` at once
    in processes of their own. Returns the parent directory, the summary
    (None when no run produced results) and one report per seed started or not."""
    from .device import check_environment

    check_repeats(config, repeats)
    check_environment(config)  # before the parent directory exists
    parent = make_parent(config, runs_root, repeats)
    configs = seed_configs(config, parent, repeats)
    labels = [f"seed {c.seed}" for c in configs]
    if jobs > 1:
        reports = run_parallel(train_job, spread_devices(configs), labels, jobs, should_stop, on_update, on_done)
    else:
        reports = []
        for index, seed_config in enumerate(configs):
            reports.append(run_one(seed_config))
            reports[-1].index, reports[-1].label = index, labels[index]
            if should_stop():
                break
        reports += [JobReport(i, labels[i], "not_started", "not started: the repeats were stopped")
                    for i in range(len(reports), repeats)]
    done = [(r.value["results"], c.seed) for r, c in zip(reports, configs) if r.value and r.value["results"]]
    summary = None
    if done:
        summary = aggregate([r for r, _ in done], [s for _, s in done])
        summary["missing"] = [{"seed": c.seed, "status": r.status, "message": r.message}
                              for r, c in zip(reports, configs) if not (r.value and r.value["results"])]
        write_summary(parent, summary)
    return parent, summary, reports

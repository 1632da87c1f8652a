"""`freq-tui train --repeats N`: one configuration trained with N seeds, one
run directory per seed under a parent directory, and the mean and standard
deviation of every metric across the seeds."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .config import RunConfig, check_repeats
from .errors import UserError
from .files import atomic_write_json, atomic_write_text
from .rundir import claim_new_path, timestamped

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"

# (label, path into results.json)
METRICS = (
    ("train MSE", ("train_mse",)),
    ("test MSE", ("test_mse",)),
    ("test/train ratio", ("ratio",)),
    ("zero predictor MSE", ("baselines", "zero_mse")),
    ("band-pass reference MSE", ("baselines", "bandpass_mse")),
    ("test MSE, S zeroed", ("ablation", "s_zero_mse")),
    ("test MSE, S shuffled", ("ablation", "s_shuffled_mse")),
)


def make_parent(config: RunConfig, runs_root: str | Path, repeats: int) -> Path:
    """`config.run_dir` if given (must not exist or be empty), else a new
    runs_root/<timestamp>-<model>-x<N>."""
    if config.run_dir:
        path = Path(config.run_dir)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UserError(str(path), "run directory already exists and is not empty (choose a new --run-dir)")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(str(path), f"cannot create run directory ({exc.strerror})") from None
        return path
    root = Path(runs_root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(str(root), f"cannot create runs directory ({exc.strerror})") from None
    def made(path: Path) -> Path:
        path.mkdir()
        return path

    return claim_new_path(root, timestamped(f"{config.model}-x{repeats}"), made)


def seed_configs(config: RunConfig, parent: Path, repeats: int) -> list[RunConfig]:
    """Seeds config.seed, config.seed + 1, ...; only the seed and the run
    directory differ between the runs."""
    return [dataclasses.replace(config, seed=config.seed + i, run_dir=str(parent / f"seed-{config.seed + i}"))
            for i in range(repeats)]


def _get(results: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = results
    for key in path:
        value = value[key]
    return float(value)


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "n": int(array.size)}


def aggregate(results: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Mean ± std of each metric over the runs that produced results."""
    metrics = {label: mean_std([_get(r, path) for r in results]) for label, path in METRICS}
    per_frequency = []
    for k, row in enumerate(results[0]["per_frequency"]):
        per_frequency.append({
            "hz": row["hz"],
            "test_mse": mean_std([r["per_frequency"][k]["test_mse"] for r in results]),
            "correlation": mean_std([r["per_frequency"][k]["correlation"] for r in results]),
        })
    return {
        "seeds": seeds,
        "metrics": metrics,
        "per_frequency": per_frequency,
        "verdicts": dict(Counter(r["verdict"]["code"] for r in results)),
    }


def _pm(stats: dict[str, float], digits: int = 6) -> str:
    if not math.isfinite(stats["mean"]):
        return "n/a"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# Repeats: {len(summary['seeds'])} seeds ({', '.join(map(str, summary['seeds']))})", "",
             "Mean ± sample standard deviation across seeds.", "",
             "| metric | mean ± std |", "| --- | --- |"]
    lines += [f"| {label} | {_pm(stats)} |" for label, stats in summary["metrics"].items()]
    lines += ["", "| Hz | test MSE | correlation |", "| --- | --- | --- |"]
    lines += [f"| {row['hz']:g} | {_pm(row['test_mse'])} | {_pm(row['correlation'], 4)} |"
              for row in summary["per_frequency"]]
    lines += ["", "Verdicts: " + ", ".join(f"{code} × {n}" for code, n in summary["verdicts"].items()), ""]
    return "\n".join(lines)


def write_summary(parent: Path, summary: dict[str, Any]) -> None:
    atomic_write_json(parent / SUMMARY_JSON, summary)
    atomic_write_text(parent / SUMMARY_MD, summary_markdown(summary))


def run_repeats(config: RunConfig, repeats: int, runs_root: str | Path,
                run_one: Callable[[RunConfig], Any], should_stop: Callable[[], bool] = lambda: False
                ) -> tuple[Path, Optional[dict[str, Any]], list[Any]]:
    """Train each seed with `run_one(config) -> RunOutcome`; stop early when
    `should_stop()`. Returns the parent directory, the summary (None when no
    run produced results) and the outcomes."""
    from .device import check_environment

    check_repeats(config, repeats)
    check_environment(config)  # before the parent directory exists
    parent = make_parent(config, runs_root, repeats)
    outcomes = []
    for seed_config in seed_configs(config, parent, repeats):
        outcomes.append(run_one(seed_config))
        if should_stop():
            break
    done = [(o.results, c.seed) for o, c in zip(outcomes, seed_configs(config, parent, repeats)) if o.results]
    summary = None
    if done:
        summary = aggregate([r for r, _ in done], [s for _, s in done])
        write_summary(parent, summary)
    return parent, summary, outcomes

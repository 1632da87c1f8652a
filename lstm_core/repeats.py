"""`freq-tui train --repeats N [--jobs J]`: one configuration trained with N
seeds (J at once, see parallel.py), one run directory per seed under a parent
directory, and the mean, median, standard deviation and worst seed of every
metric across the seeds."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .config import RunConfig, check_repeats
from .errors import UserError
from .files import atomic_write_json, atomic_write_text, check_real_folder, ensure_folder
from .formatting import correlation, mse, ratio
from .parallel import JobReport, progress_events, run_parallel, spread_devices
from .results import Results, Scores
from .rundir import claim_new_path, timestamped
from .status import RunStatus

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"

# (label, the metric in a run's scores, its format)
METRICS: tuple[tuple[str, Callable[[Scores], float], Callable[[Any], str]], ...] = (
    ("train MSE", lambda s: s.train_mse, mse),
    ("test MSE", lambda s: s.test_mse, mse),
    ("test/train ratio", lambda s: s.ratio, ratio),
    ("zero predictor MSE", lambda s: s.baselines.zero_mse, mse),
    ("band-pass reference MSE", lambda s: s.baselines.bandpass_mse, mse),
    ("test MSE, S zeroed", lambda s: s.ablation.s_zero_mse, mse),
    ("test MSE, S shuffled", lambda s: s.ablation.s_shuffled_mse, mse),
)
SHOW = {label: show for label, _, show in METRICS}


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


@dataclass(frozen=True)
class Stats:
    """Mean, median and sample standard deviation (ddof 1; 0 for a single value)."""
    mean: float
    median: float
    std: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> "Stats":
        array = np.asarray(values, dtype=np.float64)
        return cls(float(array.mean()), float(np.median(array)), float(array.std(ddof=1)) if array.size > 1 else 0.0,
                   int(array.size))

    def text(self, show=mse) -> str:
        """mean ± std in the figure's own format (formatting.mse, or correlation)."""
        return f"{show(self.mean)} ± {show(self.std)}" if math.isfinite(self.mean) else "n/a"


@dataclass(frozen=True)
class SeedRow:
    """One seed's own figures."""
    seed: int
    status: Optional[str]
    test_mse: float
    verdict: str
    worst_frequency_mse: float
    train_time_s: Optional[float]
    time_to_target_s: Optional[float]


@dataclass(frozen=True)
class FrequencyStats:
    hz: float
    test_mse: Stats
    correlation: Stats


@dataclass(frozen=True)
class MissingSeed:
    """A seed that produced no results (failed, interrupted, never started)."""
    seed: int
    status: str
    message: str


@dataclass(frozen=True)
class RepeatsSummary:
    """summary.json (its JSON is `to_json`) and summary.md."""
    seeds: list[int]
    metrics: dict[str, Stats]  # by the labels of METRICS
    worst_seed: SeedRow  # by test MSE
    per_seed: list[SeedRow]
    per_frequency: list[FrequencyStats]
    verdicts: dict[str, int]  # verdict code: how many seeds got it
    missing: list[MissingSeed] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SeedOutcome:
    """What a seed's job hands back: its results (None when no epoch ended) and its run directory."""
    results: Optional[Results]
    run_dir: str


def aggregate(results: list[Results], seeds: list[int], missing: Sequence[MissingSeed] = ()) -> RepeatsSummary:
    """Mean ± std (and median) of each metric over the runs that produced
    results, the worst seed by test MSE and each seed's own figures."""
    scores = [r.scores for r in results]
    per_seed = [SeedRow(seed, r.training.status, r.scores.test_mse, r.scores.verdict.code, r.scores.worst_frequency_mse,
                        r.training.train_time_s, (r.training.target or {}).get("time_to_target_s"))
                for r, seed in zip(results, seeds)]
    per_frequency = [FrequencyStats(row.hz, Stats.of([s.per_frequency[k].test_mse for s in scores]),
                                    Stats.of([s.per_frequency[k].correlation for s in scores]))
                     for k, row in enumerate(scores[0].per_frequency)]
    return RepeatsSummary(seeds, {label: Stats.of([float(get(s)) for s in scores]) for label, get, _ in METRICS},
                          max(per_seed, key=lambda row: row.test_mse), per_seed, per_frequency,
                          dict(Counter(s.verdict.code for s in scores)), list(missing))


def summary_markdown(summary: RepeatsSummary) -> str:
    worst = summary.worst_seed
    lines = [f"# Repeats: {len(summary.seeds)} seeds ({', '.join(map(str, summary.seeds))})", "",
             "Mean ± sample standard deviation across seeds, and the median.", "",
             "| metric | mean ± std | median |", "| --- | --- | --- |"]
    lines += [f"| {label} | {stats.text(SHOW[label])} | {SHOW[label](stats.median)} |"
              for label, stats in summary.metrics.items()]
    lines += ["", f"Worst seed: {worst.seed} (test MSE {mse(worst.test_mse)}, worst frequency "
                  f"{mse(worst.worst_frequency_mse)}, verdict {worst.verdict})"]
    lines += [f"Not in the summary: seed {row.seed} ({row.status}: {row.message})" for row in summary.missing]
    lines += ["", "| Hz | test MSE | correlation |", "| --- | --- | --- |"]
    lines += [f"| {row.hz:g} | {row.test_mse.text()} | {row.correlation.text(correlation)} |"
              for row in summary.per_frequency]
    lines += ["", "Verdicts: " + ", ".join(f"{code} × {n}" for code, n in summary.verdicts.items()), ""]
    return "\n".join(lines)


def write_summary(parent: Path, summary: RepeatsSummary) -> None:
    atomic_write_json(parent / SUMMARY_JSON, summary.to_json())
    atomic_write_text(parent / SUMMARY_MD, summary_markdown(summary))


def train_job(config: RunConfig, emit: Callable[[Any], None], stop) -> tuple[str, str, SeedOutcome]:
    """One seed in its own process (parallel.py): train, evaluate, and send
    the epochs as they end."""
    from .runner import run_training

    outcome = run_training(config, on_event=progress_events(emit), stop=stop)
    return outcome.training.status, outcome.training.message, SeedOutcome(outcome.results, str(outcome.run_dir.path))


def run_repeats(config: RunConfig, repeats: int, runs_root: str | Path, jobs: int,
                run_one: Callable[[RunConfig], JobReport], should_stop: Callable[[], bool] = lambda: False,
                on_update: Callable[[int, Any], None] = lambda index, update: None,
                on_done: Callable[[JobReport], None] = lambda report: None,
                ) -> tuple[Path, Optional[RepeatsSummary], list[JobReport]]:
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
        reports += [JobReport(i, labels[i], RunStatus.NOT_STARTED, "not started: the repeats were stopped")
                    for i in range(len(reports), repeats)]
    done = [(r.value.results, c.seed) for r, c in zip(reports, configs) if r.value and r.value.results]
    summary = None
    if done:
        missing = [MissingSeed(c.seed, r.status, r.message)
                   for r, c in zip(reports, configs) if not (r.value and r.value.results)]
        summary = aggregate([r for r, _ in done], [s for _, s in done], missing)
        write_summary(parent, summary)
    return parent, summary, reports

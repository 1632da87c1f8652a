"""The run directories under a runs root, newest first, with the state of
each (a dead writer reads `stale`): for `freq-tui runs` and the app's Runs
screen alike."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from numbers import Real
from typing import Optional

from .errors import UserError
from .events import best_record
from .formatting import mse
from .rundir import CONFIG, RunDir
from .status import RunStatus, state_text


@dataclass
class RunSummary:
    path: Path
    model: str
    noise: str
    started: float
    status: str  # status.json's, or RunStatus.STALE
    epochs: int  # epochs done
    total_epochs: Optional[int]  # None: config.toml cannot be read
    best_val: Optional[float]
    test_mse: Optional[float]

    @property
    def stale(self) -> bool:
        return self.status == RunStatus.STALE

    def to_json(self) -> dict:
        record = asdict(self)
        record["path"] = str(self.path)
        record["name"] = self.path.name
        return record


def summarise_run(path: Path) -> RunSummary:
    run = RunDir(path)
    status = run.read_status()
    try:
        results = run.read_results()
    except UserError:  # damaged: listed without its results
        results = None
    try:
        config = run.read_config()
        model, noise, total = config.model, config.noise, config.epochs
    except UserError:  # a damaged config.toml: the run is still listed
        model, noise, total = "?", "?", None
    model = status.get("model") or model
    metrics = run.read_metrics()
    best = best_record(metrics)
    best_val = results.training.best_val_loss if results else (best.val_loss if best else None)
    started = status.get("started") or path.stat().st_mtime
    return RunSummary(path, model, noise, float(started), run.state(), len(metrics), total, best_val,
                      results.scores.test_mse if results else status.get("test_mse"))


def list_runs(root: Path) -> list[RunSummary]:
    if not root.is_dir():
        return []
    runs = [summarise_run(p) for p in root.iterdir() if p.is_dir() and (p / CONFIG).is_file()]
    return sorted(runs, key=lambda r: (r.started, r.path.name), reverse=True)


def fmt(value: Optional[float]) -> str:
    """A loss in the listing (formatting.mse), '-' when there is none."""
    return mse(value if isinstance(value, Real) else None, missing="-")


COLUMNS = ("run", "model", "noise", "status", "epochs", "best val", "test MSE", "started")


def table_rows(runs: list[RunSummary]) -> list[tuple[str, ...]]:
    return [(r.path.name, r.model, r.noise, state_text(r.status), f"{r.epochs}/{r.total_epochs or '?'}", fmt(r.best_val),
             fmt(r.test_mse), time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))) for r in runs]


def format_table(runs: list[RunSummary]) -> str:
    rows = [COLUMNS, *table_rows(runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def to_json(runs: list[RunSummary]) -> str:
    return json.dumps([r.to_json() for r in runs], indent=2)

"""The run directories under a runs root, newest first, with the state of
each (a dead writer reads `stale`): for `freq-tui runs` and the app's Runs
screen alike."""
from __future__ import annotations

import json
import math
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
from .sysmon import summarise


@dataclass
class RunSummary:
    path: Path
    model: str
    noise: str
    started: Optional[float]  # None: not known (no time this machine can show)
    status: str  # status.json's, RunStatus.STALE, or UNREADABLE
    epochs: int  # epochs done
    total_epochs: Optional[int]  # None: config.toml cannot be read
    best_val: Optional[float]
    test_mse: Optional[float]
    system: Optional[dict] = None  # the machine while it trained (sysmon.summarise); None: no figures
    reason: Optional[str] = None  # why an unreadable run could not be read

    @property
    def stale(self) -> bool:
        return self.status == RunStatus.STALE

    def to_json(self) -> dict:
        record = asdict(self)
        record["path"] = str(self.path)
        record["name"] = self.path.name
        return record


UNREADABLE = "unreadable"


def timestamp(value: object) -> Optional[float]:
    """A time a file records, or None where it is not a number or not one
    this machine can show as a date (NaN, 1e300)."""
    if not isinstance(value, Real) or isinstance(value, bool):
        return None
    try:
        time.localtime(float(value))
    except (OverflowError, OSError, ValueError):
        return None
    return float(value)


def time_text(value: Optional[float], pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A recorded time as the listing shows it; "unknown" where there is none."""
    value = timestamp(value)
    return "unknown" if value is None else time.strftime(pattern, time.localtime(value))


def _finite(value: object) -> Optional[float]:
    return float(value) if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) else None


def summarise_run(path: Path) -> RunSummary:
    """The run's summary; one whose folder or files cannot be read (another
    user's, a broken disk) is listed as UNREADABLE, never an error."""
    try:
        return _summarise(path)
    except (OSError, UserError, ValueError, OverflowError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc.__class__.__name__
        return RunSummary(path, "?", "?", None, UNREADABLE, 0, None, None, None, reason=str(reason))


def _summarise(path: Path) -> RunSummary:
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
    # a recorded start this machine cannot show is unknown, not replaced by a guess
    started = timestamp(status["started"]) if "started" in status else timestamp(path.stat().st_mtime)
    system = results.training.system if results else summarise(metrics)
    return RunSummary(path, model, noise, started, run.state(), len(metrics), total, _finite(best_val),
                      _finite(results.scores.test_mse if results else status.get("test_mse")), system)


def _is_candidate(path: Path) -> bool:
    """A run directory, or a folder that cannot be looked into (listed as unreadable)."""
    try:
        return path.is_dir() and (path / CONFIG).is_file()
    except OSError:
        return True


def list_runs(root: Path) -> list[RunSummary]:
    """The runs under `root`, newest first. UserError where `root` itself
    cannot be read."""
    try:
        if not root.is_dir():
            return []
        entries = list(root.iterdir())
    except OSError as exc:
        raise UserError(str(root), f"cannot read runs directory ({exc.strerror or exc.__class__.__name__})") from None
    runs = [summarise_run(p) for p in entries if _is_candidate(p)]
    return sorted(runs, key=lambda r: (r.started or 0.0, r.path.name), reverse=True)


def fmt(value: Optional[float]) -> str:
    """A loss in the listing (formatting.mse), '-' when there is none."""
    return mse(value if isinstance(value, Real) else None, missing="-")


COLUMNS = ("run", "model", "noise", "status", "epochs", "best val", "test MSE", "started")


def table_rows(runs: list[RunSummary]) -> list[tuple[str, ...]]:
    return [(r.path.name, r.model, r.noise, state_text(r.status), f"{r.epochs}/{r.total_epochs or '?'}", fmt(r.best_val),
             fmt(r.test_mse), time_text(r.started)) for r in runs]


def format_table(runs: list[RunSummary]) -> str:
    rows = [COLUMNS, *table_rows(runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def to_json(runs: list[RunSummary]) -> str:
    return json.dumps([r.to_json() for r in runs], indent=2)

"""The headless live table of a study's trials (as parallel_view.py shows
the runs of --jobs): one row per trial with its state, parameters, value and
time; a line per trial as it ends. Off a terminal the table is printed once,
at the end."""
from __future__ import annotations

import time
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from ..parallel_view import LiveTable


MAX_ROWS = 30  # the newest; older ones are in tune.md


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def trial_rows(study) -> dict[int, dict[str, Any]]:
    """The rows of the trials a study already holds (a resumed study)."""
    rows = {}
    for trial in study.get_trials(deepcopy=False):
        rows[trial.number] = {"state": trial.state.name.lower(), "params": trial.params,
                              "value": trial.value if trial.values else None,
                              "train_time_s": trial.user_attrs.get("train_time_s"),
                              "note": trial.user_attrs.get("failed_because") or trial.user_attrs.get("pruned_at", "")}
    return rows


class TrialsTable(LiveTable):
    def __init__(self, console: Console, title: str, rows: Optional[dict[int, dict[str, Any]]] = None):
        self.rows: dict[int, dict[str, Any]] = rows or {}
        super().__init__(console, title)

    def best(self) -> Optional[tuple[int, float]]:
        scored = [(n, r["value"]) for n, r in self.rows.items() if r.get("state") == "complete"
                  and r.get("value") is not None]
        return min(scored, key=lambda item: item[1]) if scored else None

    def render(self) -> Table:
        best = self.best()
        caption = f"best so far: trial {best[0]}, {best[1]:.6g}" if best else "no trial complete yet"
        table = Table(title=self.title, caption=caption)
        for column in ("trial", "state", "parameters", "value", "progress", "time"):
            table.add_column(column, justify="right" if column in ("trial", "value", "time") else "left")
        now = time.monotonic()
        for n in sorted(self.rows)[-MAX_ROWS:]:
            row = self.rows[n]
            value = f"{row['value']:.6g}" if row.get("value") is not None else ""
            progress = f"set {row['set']} epoch {row['epoch']}" if row.get("state") == "running" and "epoch" in row \
                else row.get("note", "")
            if row.get("train_time_s") is not None:
                seconds = f"{row['train_time_s']:.1f} s"
            elif "started" in row:
                seconds = f"{now - row['started']:.0f} s"
            else:
                seconds = ""
            table.add_row(str(n), row.get("state", ""), params_text(row.get("params", {})), value, progress, seconds)
        return table

    def update(self, update: dict) -> None:
        if not isinstance(update, dict) or "trial" not in update:
            return  # a worker's own state (parallel.py)
        row = self.rows.setdefault(update["trial"], {})
        if update.get("state") == "running":
            row.clear()
            row["started"] = time.monotonic()
        row.update({k: v for k, v in update.items() if k != "trial"})
        if update.get("state") in ("complete", "pruned", "fail"):
            value = f" value {update['value']:.6g}" if update.get("value") is not None else ""
            note = f" ({update['note']})" if update.get("note") else ""
            colour = {"complete": "green", "pruned": "yellow"}.get(update["state"], "red")
            self.console.print(f"[{colour}]trial {update['trial']}: {update['state']}[/]{value}{note}", highlight=False)
        self.refresh()

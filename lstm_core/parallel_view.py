"""Progress of runs going on in parallel (parallel.py): a live table with one
row per run on a terminal, and one line per run as it ends everywhere."""
from __future__ import annotations

import time
from typing import Any, Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .parallel import JobReport
from .status import RunStatus


class RunsTable:
    def __init__(self, labels: Sequence[str], console: Console, title: str):
        self.console = console
        self.title = title
        self.rows: list[dict[str, Any]] = [{"label": label, "state": "waiting"} for label in labels]
        # Off a terminal (a log file, a pipe) the table is printed once, at the end.
        self.live = Live(self.render(), console=console, refresh_per_second=2) if console.is_terminal else None

    def __enter__(self) -> "RunsTable":
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.update(self.render())
            self.live.__exit__(*exc)
        else:
            self.console.print(self.render())

    def render(self) -> Table:
        table = Table(title=self.title)
        for column in ("run", "state", "epoch", "val MSE", "test MSE", "time"):
            table.add_column(column, justify="left" if column in ("run", "state") else "right")
        now = time.monotonic()
        for row in self.rows:
            epoch = f"{row.get('epoch', 0)}/{row['epochs']}" if "epochs" in row else ""
            val = f"{row['val_loss']:.6f}" if "val_loss" in row else ""
            seconds = row.get("ended", now) - row["started"] if "started" in row else None
            table.add_row(row["label"], row["state"], epoch, val, row.get("test_mse", ""),
                          f"{seconds:.0f} s" if seconds is not None else "")
        return table

    def update(self, index: int, update: dict) -> None:
        row = self.rows[index]
        if update.get("state") == RunStatus.RUNNING:
            row["started"] = time.monotonic()
        row.update(update)
        if self.live:
            self.live.update(self.render())

    def done(self, report: JobReport, test_mse: float | None = None, result: str = "") -> None:
        """A run ended: its row, and a line naming it and its result (or why it has none)."""
        row = self.rows[report.index]
        row.update(state=report.status, ended=time.monotonic())
        if test_mse is not None:
            row["test_mse"] = f"{test_mse:.6f}"
        colour = "green" if report.value else "red" if report.status == RunStatus.FAILED else "yellow"
        self.console.print(f"[{colour}]{report.label}: {report.status}[/] {result or report.message}", highlight=False)
        if self.live:
            self.live.update(self.render())

"""Progress of runs going on in parallel (parallel.py): a live table with one
row per run on a terminal, and one line per run as it ends everywhere."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .events import EpochRecord, RunStarted
from .formatting import mse
from .parallel import JobReport
from .status import RunStatus


@dataclass
class JobRow:
    """One run's row of the table."""
    label: str
    state: str = "waiting"
    epochs: Optional[int] = None
    last: Optional[EpochRecord] = None  # its last epoch
    started: Optional[float] = None
    ended: Optional[float] = None
    test_mse: Optional[float] = None


class LiveTable:
    """A table redrawn twice a second on a terminal; off one (a log file, a
    pipe) printed once, at the end. Subclasses draw it (`render`) and call
    `refresh` when it changed."""

    def __init__(self, console: Console, title: str):
        self.console = console
        self.title = title
        self.live = Live(self.render(), console=console, refresh_per_second=2) if console.is_terminal else None

    def render(self) -> Table:
        raise NotImplementedError

    def refresh(self) -> None:
        if self.live:
            self.live.update(self.render())

    def __enter__(self):
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.update(self.render())
            self.live.__exit__(*exc)
        else:
            self.console.print(self.render())


class RunsTable(LiveTable):
    def __init__(self, labels: Sequence[str], console: Console, title: str):
        self.rows = [JobRow(label) for label in labels]
        super().__init__(console, title)

    def render(self) -> Table:
        table = Table(title=self.title)
        for column in ("run", "state", "epoch", "val MSE", "test MSE", "time"):
            table.add_column(column, justify="left" if column in ("run", "state") else "right")
        now = time.monotonic()
        for row in self.rows:
            epoch = f"{row.last.epoch if row.last else 0}/{row.epochs}" if row.epochs else ""
            elapsed = (row.ended or now) - row.started if row.started is not None else None
            table.add_row(row.label, row.state, epoch, mse(row.last.val_loss) if row.last else "",
                          mse(row.test_mse, missing=""), f"{elapsed:.0f} s" if elapsed is not None else "")
        return table

    def update(self, index: int, update: Any) -> None:
        """A job's progress: RunStatus.RUNNING when a worker takes it, its
        RunStarted, each EpochRecord (parallel.progress_events)."""
        row = self.rows[index]
        if update == RunStatus.RUNNING:
            row.state, row.started = RunStatus.RUNNING, time.monotonic()
        elif isinstance(update, RunStarted):
            row.epochs = update.total_epochs
        elif isinstance(update, EpochRecord):
            row.last = update
        self.refresh()

    def done(self, report: JobReport, test_mse: float | None = None, result: str = "") -> None:
        """A run ended: its row, and a line naming it and its result (or why it has none)."""
        row = self.rows[report.index]
        row.state, row.ended, row.test_mse = report.status, time.monotonic(), test_mse
        colour = "green" if report.value else "red" if report.status == RunStatus.FAILED else "yellow"
        self.console.print(f"[{colour}]{report.label}: {report.status}[/] {result or report.message}", highlight=False)
        self.refresh()

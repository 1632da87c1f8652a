"""Runs: the run directories under the runs root, newest first.

Enter opens a run on Evaluate; `a` attaches to a run that another process
(a headless `freq-tui train`) is still writing and follows it on Train; `R`
resumes an interrupted or stale run in the app.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from lstm_core.rundir import state_text
from lstm_core.runlist import RunSummary, list_runs

from ..evaluation import fmt


class RunsScreen(Screen):
    BINDINGS = [
        Binding("o", "open", "Open"),
        Binding("a", "attach", "Attach"),
        Binding("R", "resume", "Resume"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-status")
        yield DataTable(id="runs", cursor_type="row")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Runs"
        self.query_one("#runs", DataTable).add_columns("run", "model", "started", "status", "epochs", "test MSE")
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        root = Path(self.app.runs_root)
        self.runs = list_runs(root)
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in self.runs:
            started = time.strftime("%m-%d %H:%M", time.localtime(run.started))
            table.add_row(run.path.name, run.model, started, state_text(run.status), str(run.epochs), fmt(run.test_mse),
                          key=str(run.path))
        count = f"{len(self.runs)} run(s) in {root}/" if self.runs else f"No runs in {root}/ yet"
        self.query_one("#runs-status", Static).update(
            f"{count}. Enter or o: evaluate  a: attach to a live run  R: resume")
        table.focus()

    def selected(self) -> Optional[RunSummary]:
        table = self.query_one("#runs", DataTable)
        if not self.runs or table.cursor_row is None or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.selected()
        if run is not None:
            self.app.open_evaluation(str(run.path))

    def action_attach(self) -> None:
        run = self.selected()
        if run is not None:
            self.app.follow_run(str(run.path))

    def action_resume(self) -> None:
        run = self.selected()
        if run is not None:
            self.app.resume_run(str(run.path))

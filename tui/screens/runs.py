"""Runs: the run directories under the runs root, newest first.

Enter opens a run on Evaluate; `a` attaches to a run that another process
(a headless `freq-tui train`) is still writing and follows it on Train; `R`
resumes an interrupted or stale run in the app. Space marks runs and `c`
opens the marked ones side by side (Compare).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from lstm_core import api
from lstm_core.api import RunSummary, UserError, state_text
from lstm_core.formatting import mse

from .compare import CompareScreen
from .dialogs import ErrorDialog, failure_text


class RunsScreen(Screen):
    BINDINGS = [
        # o and r: in the status line and F1 help; the footer is full at 80 columns
        Binding("o", "open", "Open", show=False),
        Binding("a", "attach", "Attach"),
        Binding("R", "resume", "Resume"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("space", "mark", "Mark", show=False),  # the status line says "space: mark"; c warns without marks
        Binding("c", "compare", "Compare"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunSummary] = []
        self.marked: list[str] = []  # run paths marked for Compare, in the order marked

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-status")
        yield DataTable(id="runs", cursor_type="row")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Runs"
        self.name_column = self.query_one("#runs", DataTable).add_columns(
            "run", "model", "started", "status", "epochs", "test MSE")[0]
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        root = Path(self.app.runs_root)
        try:
            self.runs, problem = api.list_runs(root), ""
        except UserError as exc:  # the runs folder cannot be read: said here, the app goes on
            self.runs, problem = [], failure_text(exc)
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in self.runs:
            table.add_row(self.name_cell(run), run.model, api.time_text(run.started, "%m-%d %H:%M"),
                          state_text(run.status), str(run.epochs), mse(run.test_mse), key=str(run.path))
        self.marked = [path for path in self.marked if any(str(run.path) == path for run in self.runs)]
        count = f"{len(self.runs)} run(s) in {root}/" if self.runs else f"No runs in {root}/ yet"
        if problem:
            count = problem
            self.notify(problem, severity="error", timeout=8)
        self.query_one("#runs-status", Static).update(
            f"{count}. Enter or o: evaluate  a: attach to a live run  R: resume  r: rescan  "
            "space: mark  c: compare the marked runs")
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

    def name_cell(self, run: RunSummary) -> str:
        return f"● {run.path.name}" if str(run.path) in self.marked else run.path.name

    def action_mark(self) -> None:
        run = self.selected()
        if run is None:
            return
        path = str(run.path)
        if path in self.marked:
            self.marked.remove(path)
        else:
            self.marked.append(path)
        table = self.query_one("#runs", DataTable)
        table.update_cell(path, self.name_column, self.name_cell(run), update_width=True)
        if table.cursor_row is not None and table.cursor_row + 1 < table.row_count:
            table.move_cursor(row=table.cursor_row + 1)

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify("Mark two or more runs with space first", severity="warning")
            return
        try:
            runs = api.compare_runs(self.marked)
        except (UserError, OSError) as exc:
            self.app.push_screen(ErrorDialog("Cannot compare these runs", failure_text(exc)))
            return
        self.app.push_screen(CompareScreen(runs))

    def action_attach(self) -> None:
        run = self.selected()
        if run is not None:
            self.app.follow_run(str(run.path))

    def action_resume(self) -> None:
        run = self.selected()
        if run is not None:
            self.app.resume_run(str(run.path))

"""Compare: runs marked on the Runs screen, side by side.

The same tables as `freq-tui compare` (lstm_core/compare.py), read from the
run directories' files: validation loss of every run overlaid (log y, `l`
toggles), the settings that differ, and the metrics with the verdicts.
Escape goes back to Runs.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from lstm_core.api import ComparedRun, differing_settings, metrics_rows

from ..widgets.charts import LineChart, Series

MARKERS = ("braille", "dot", "x", "+", "o", "*")
COLOURS = ("cyan", "orange", "magenta", "green", "blue", "red")


class CompareScreen(Screen):
    BINDINGS = [
        Binding("l", "toggle_log", "Log y"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, runs: list[ComparedRun]) -> None:
        super().__init__()
        self.runs = runs
        self.log_y = True  # losses span decades: log first

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-status")
        with Horizontal(id="compare-top"):
            yield LineChart("Validation loss", id="compare-loss")
            yield DataTable(id="compare-settings", cursor_type="row")
        yield DataTable(id="compare-metrics", cursor_type="row")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Compare"
        labels = [run.label for run in self.runs]
        self.query_one("#compare-status", Static).update(
            f"{len(self.runs)} runs: " + ", ".join(f"{i}={label}" for i, label in enumerate(labels, 1)))
        numbers = [str(i) for i in range(1, len(self.runs) + 1)]  # columns by number: names are long
        metrics = self.query_one("#compare-metrics", DataTable)
        metrics.add_column("metric")
        width = max(12, (self.app.size.width - 32) // len(self.runs))  # long cells wrap: every run on screen
        for number in numbers:
            metrics.add_column(number, width=width)
        for row in metrics_rows(self.runs):
            metrics.add_row(*row, height=None)
        settings = self.query_one("#compare-settings", DataTable)
        settings.add_columns("differs", *numbers)
        settings.add_rows(differing_settings(self.runs) or [("(no setting differs)", *("" for _ in numbers))])
        self.draw_loss()

    def draw_loss(self) -> None:
        series = []
        for i, run in enumerate(self.runs):
            history = [r for r in run.history if "val_loss" in r and "epoch" in r]
            series.append(Series(f"{i + 1} val", [r["val_loss"] for r in history],
                                 marker=MARKERS[i % len(MARKERS)], color=COLOURS[i % len(COLOURS)],
                                 x=[r["epoch"] for r in history]))
        scale = "log y" if self.log_y else "linear y"
        self.query_one("#compare-loss", LineChart).show([], series, title=f"Validation loss, {scale} (l)",
                                                         xlabel="epoch", ylog=self.log_y)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.draw_loss()

    def action_back(self) -> None:
        self.app.pop_screen()

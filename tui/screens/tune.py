"""Tune: an Optuna study started from the Configure form's values and a
space (a --space TOML file, or the ranges the config fields declare), its
trials live in a table, the best so far and the optimisation history. The
study is `freq-tui tune`'s (lstm_core.tune) in a thread worker; its
directory holds the same journal, trial runs, best.toml and tune.md, so the
headless command can continue it.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static

from lstm_core.api import OBJECTIVES, StopFlag, StudySpec, UserError, params_text, study_spec

from ..tune_worker import StudyEnded, StudyLoaded, TrialUpdated, tune_in_worker
from ..widgets.charts import LineChart, Series

ENDED = ("complete", "pruned", "fail")


def _count(name: str, text: str, low: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise UserError(name, f"must be a whole number (got {text!r})") from None
    if value < low:
        raise UserError(name, f"must be >= {low} (got {value})")
    return value


class TuneScreen(Screen):
    CSS_PATH = "tune.tcss"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start study", priority=True),
        Binding("ctrl+t", "stop", "Stop study", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict[str, Any]] = {}
        self.stop: Optional[StopFlag] = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="tune-options"):
            yield Label("trials")
            yield Input("10", id="tune-trials")
            yield Label("seed sets")
            yield Input("2", id="tune-seed-sets")
            yield Label("jobs")
            yield Input("1", id="tune-jobs")
            yield Label("objective")
            yield Select([(o, o) for o in OBJECTIVES], value="median", allow_blank=False, id="tune-objective")
        with Horizontal(id="tune-paths"):
            yield Label("study dir")
            yield Input("tune", id="tune-out")
            yield Label("space file")
            yield Input("", placeholder="empty: the ranges the fields declare", id="tune-space")
        yield Static("ctrl+r starts a study from Configure's values", id="tune-status")
        yield DataTable(id="tune-trials-table", cursor_type="row")
        yield Static("no trial complete yet", id="tune-best")
        yield LineChart("Optimisation history", id="tune-history")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Tune"
        self.query_one("#tune-trials-table", DataTable).add_columns("trial", "state", "parameters", "value", "time")

    # ---- starting and stopping ---------------------------------------------
    def spec(self) -> tuple[StudySpec, int]:
        """The study the form asks for. Raises UserError (shown on the status line)."""
        value = lambda selector: self.query_one(selector, Input).value  # noqa: E731
        jobs = _count("jobs", value("#tune-jobs"), 1)
        spec = study_spec(self.app.form_settings(), jobs=jobs, out=value("#tune-out").strip() or "tune",
                          trials=_count("trials", value("#tune-trials"), 1),
                          seed_sets=_count("seed sets", value("#tune-seed-sets"), 1),
                          objective=str(self.query_one("#tune-objective", Select).value),
                          space_file=value("#tune-space").strip() or None)
        return spec, jobs

    def action_start(self) -> None:
        if self.running:
            self.notify("A study is running: stop it first (ctrl+t)", severity="warning")
            return
        try:
            spec, jobs = self.spec()
        except UserError as exc:
            self.status(f"[red]{exc}[/]")
            self.notify(str(exc), severity="error", title="Cannot start the study")
            return
        self.rows = {}
        self.stop = StopFlag()
        self.app.study_stop = self.stop
        self.running = True
        self.status(f"study in {spec.out}: {spec.trials} trials, {spec.seed_sets} seed sets each, {jobs} at once; "
                    f"space " + "; ".join(f"{d.name} {d.describe()}" for d in spec.space))
        self.redraw()
        self.run_worker(partial(tune_in_worker, spec, jobs, self.stop, self.post_message), name="tune",
                        group="tune", thread=True, exclusive=True, exit_on_error=False)

    def action_stop(self) -> None:
        if not self.running or self.stop is None:
            self.notify("No study is running", severity="warning")
            return
        self.stop.request("cancelled")
        self.status("stopping: no new trials; the running ones end at their next batch (failed, resumable)")

    # ---- messages from the worker ----------------------------------------------
    def on_study_loaded(self, message: StudyLoaded) -> None:
        self.rows.update(message.rows)
        self.redraw()

    def on_trial_updated(self, message: TrialUpdated) -> None:
        update = message.update
        if not isinstance(update, dict) or "trial" not in update:
            return
        row = self.rows.setdefault(update["trial"], {})
        if update.get("state") == "running":
            row.clear()
        row.update({k: v for k, v in update.items() if k != "trial"})
        self.redraw(table_only=update.get("state") not in ENDED)

    def on_study_ended(self, message: StudyEnded) -> None:
        self.running = False
        self.app.study_stop = None
        if message.error:
            self.status(f"[red]study failed:[/] {message.error}")
            self.notify(message.error, severity="error", title="Tune")
        else:
            ended = "stopped (continue it: ctrl+r with the same values)" if message.stopped else "done"
            self.status(f"study {ended}; report: {message.report or 'none'}")
            self.notify(f"Study {ended}", title="Tune")
        self.redraw()

    def status(self, text: str) -> None:
        self.query_one("#tune-status", Static).update(text)

    # ---- drawing ------------------------------------------------------------------
    def best(self) -> Optional[tuple[int, float]]:
        scored = [(n, r["value"]) for n, r in self.rows.items() if r.get("state") == "complete"
                  and r.get("value") is not None]
        return min(scored, key=lambda item: item[1]) if scored else None

    def redraw(self, table_only: bool = False) -> None:
        table = self.query_one("#tune-trials-table", DataTable)
        table.clear()
        for n in sorted(self.rows):
            row = self.rows[n]
            value = f"{row['value']:.6g}" if row.get("value") is not None else ""
            if row.get("state") == "running" and "epoch" in row:
                time_text = f"set {row['set']} epoch {row['epoch']}"
            elif row.get("train_time_s") is not None:
                time_text = f"{row['train_time_s']:.1f} s"
            else:
                time_text = row.get("note", "") or ""
            table.add_row(str(n), row.get("state", ""), params_text(row.get("params", {})), value, time_text)
        if table_only:
            return
        best = self.best()
        self.query_one("#tune-best", Static).update(
            f"best so far: trial {best[0]}, {best[1]:.6g} ({params_text(self.rows[best[0]].get('params', {}))})"
            if best else "no trial complete yet")
        chart = self.query_one("#tune-history", LineChart)
        done = sorted((n, r["value"]) for n, r in self.rows.items() if r.get("state") == "complete"
                      and r.get("value") is not None)
        if not done:
            chart.clear()
            return
        xs = [float(n) for n, _ in done]
        values = [v for _, v in done]
        best_so_far = [min(values[: i + 1]) for i in range(len(values))]
        chart.show(xs, [Series("trial", values, marker="dot"), Series("best so far", best_so_far, color="red")],
                   xlabel="trial")

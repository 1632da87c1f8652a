"""Evaluate: what the model learned, next to what trivial predictors get.

The evaluation runs on a thread worker (loading a checkpoint and running the
model over the data takes a moment); the screen shows the tables and charts
when it is done. Export writes the report and PNG figures into the run
directory, also off the UI thread.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Optional

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from lstm_core import api
from lstm_core.api import RunEvaluation, amplitude_spectrum, tables
from lstm_core.formatting import mse

from ..widgets.charts import LineChart, Series
from .dialogs import ErrorDialog, PathDialog, TextDialog, failure_text

WAVE_SECONDS = 2.0


def short_verdict(text: str) -> str:
    """The verdict's first sentence; `v` shows all of it."""
    first, dot, rest = text.partition(". ")
    return f"{first}{dot.strip()}  (v: full verdict)" if rest.strip() else text


class EvaluateScreen(Screen):
    BINDINGS = [
        Binding("x", "export", "Export"),
        Binding("r", "reload", "Re-evaluate", show=False),  # in F1 help; the footer is full at 80 columns
        Binding("f", "next_frequency", "Next Hz", show=False),  # the chart titles say "1-4, f"; the footer is full
        Binding("v", "verdict", "Verdict"),
        Binding("d", "toggle_drift", "Drift"),
        Binding("a", "extract_audio", "Audio", show=False),  # in F1 help and the palette; the footer is full
        Binding("1", "frequency(0)", "f1", show=False),
        Binding("2", "frequency(1)", "f2", show=False),
        Binding("3", "frequency(2)", "f3", show=False),
        Binding("4", "frequency(3)", "f4", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.evaluated: Optional[RunEvaluation] = None
        self.loading: Optional[str] = None
        # (target, request) whose evaluation failed: not tried again on every
        # return to this screen, only when asked (r, or opened again on Runs)
        self.failed: Optional[tuple[str, int]] = None
        self.frequency_index = 0
        self.show_drift = False  # the right chart: amplitude spectrum, or phase and frequency drift (d)
        self.exported: list[Path] = []
        self.extracted = None  # the last api.extract_audio's Extraction

    def compose(self) -> ComposeResult:
        yield Header()
        # Headline first, as in report.html: run, verdict, test MSE next to
        # the baselines, per-frequency MSE and correlation; then the charts.
        yield Static("No run to evaluate: train one (F2) or open one on Runs (F5).", id="eval-status")
        yield Static("", id="verdict")
        with Horizontal(id="eval-tables"):
            yield DataTable(id="baselines", cursor_type="row")
            yield DataTable(id="per-frequency", cursor_type="row", zebra_stripes=False)
        yield Static("", id="eval-ratio")
        with Horizontal(id="eval-charts"):
            yield LineChart("Prediction vs target", id="pred-chart")
            yield LineChart("Spectrum", id="spectrum-chart")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Evaluate"
        self.query_one("#per-frequency", DataTable).add_columns(*tables.PER_FREQUENCY_SHORT)
        self.query_one("#baselines", DataTable).add_columns(*tables.PREDICTORS)
        self.check_target()

    def on_screen_resume(self) -> None:
        self.check_target()

    def check_target(self) -> None:
        target = self.app.evaluation_target
        if target and target != self.loading and (target, self.app.evaluation_requests) != self.failed and (
                self.evaluated is None or str(self.evaluated.run_dir.path) != target):
            carried = self.app.carried_evaluation
            if carried is not None and str(carried.run_dir.path) == target:
                self.show(carried)  # the run's own evaluation: nothing is evaluated again
            else:
                self.load(target)

    # ---- evaluation ---------------------------------------------------------
    def load(self, path: str) -> None:
        self.loading = path
        self.query_one("#eval-status", Static).update(f"Evaluating {path} ...")
        self.run_worker(partial(api.evaluate_run, path), name="evaluate", group="evaluate",
                        thread=True, exclusive=True, exit_on_error=False)

    def action_reload(self) -> None:
        target = self.app.evaluation_target
        if target:
            self.evaluated, self.failed = None, None
            self.load(target)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "evaluate":
            if event.state == WorkerState.SUCCESS:
                self.loading = None
                self.show(worker.result)
            elif event.state == WorkerState.ERROR:
                self.failed, self.loading = (self.loading, self.app.evaluation_requests), None
                self.query_one("#eval-status", Static).update(f"Evaluation failed: {failure_text(worker.error)}")
                self.app.push_screen(ErrorDialog("Evaluation failed", failure_text(worker.error)))
        elif worker.group == "extract":
            if event.state == WorkerState.SUCCESS:
                self.extracted = worker.result
                self.notify(f"Components of {worker.result.source.name} written to {worker.result.out_dir} "
                            "(npz, csv, png)", title="Audio", timeout=10)
            elif event.state == WorkerState.ERROR:
                self.app.push_screen(ErrorDialog("Audio extraction failed", failure_text(worker.error)))
        elif worker.group == "export":
            if event.state == WorkerState.SUCCESS:
                self.exported = list(worker.result)
                folder = self.evaluated.run_dir.path if self.evaluated else ""
                self.notify(f"Report written to {folder} ({len(self.exported)} files)", title="Export", timeout=10)
            elif event.state == WorkerState.ERROR:
                self.app.push_screen(ErrorDialog("Export failed", failure_text(worker.error)))

    def show(self, evaluated: RunEvaluation) -> None:
        self.evaluated = evaluated
        scores, config = evaluated.evaluation.scores, evaluated.evaluation.config
        self.query_one("#eval-status", Static).update(
            f"{evaluated.run_dir.path}  {config.model}, noise {config.noise}, {evaluated.results.training.status}")
        self.query_one("#eval-ratio", Static).update(
            f"train MSE {mse(scores.train_mse)}  test MSE {mse(scores.test_mse)}  ratio {scores.ratio_text()}")

        table = self.query_one("#per-frequency", DataTable)
        table.clear()
        table.add_rows(tables.per_frequency(scores, short=True).rows)

        baselines = self.query_one("#baselines", DataTable)
        baselines.clear()
        baselines.add_rows(tables.baselines(scores, short=True).rows + tables.ablation(scores, short=True).rows)
        self.query_one("#verdict", Static).update(short_verdict(scores.verdict.text))
        self.draw_charts()

    def draw_charts(self) -> None:
        if self.evaluated is None:
            return
        test, predictions = self.evaluated.evaluation.test, self.evaluated.evaluation.predictions.test
        k = min(self.frequency_index, test.n_frequencies - 1)
        hz = test.frequencies[k]
        n = min(test.n_samples, max(2, int(WAVE_SECONDS * test.fs)))
        self.query_one("#pred-chart", LineChart).show(test.t[:n], [
            Series("prediction", predictions[k, :n], marker="braille", color="magenta"),
            Series("target", test.targets[k, :n], marker="dot", color="green"),
        ], title=f"f{k + 1} = {hz:g} Hz, test set (1-4, f)", xlabel="t [s]")

        if self.show_drift:
            self.draw_drift(k)
            return
        freqs, spec_input = amplitude_spectrum(test.S, test.fs)
        _, spec_target = amplitude_spectrum(test.targets[k], test.fs)
        _, spec_pred = amplitude_spectrum(predictions[k], test.fs)
        upper = 1.5 * float(np.max(test.frequencies)) + 1.0
        keep = freqs <= upper
        self.query_one("#spectrum-chart", LineChart).show(freqs[keep], [
            Series("input S", spec_input[keep], marker="dot", color="blue"),
            Series("target", spec_target[keep], marker="x", color="green"),
            Series("prediction", spec_pred[keep], marker="braille", color="magenta"),
        ], title=f"Amplitude spectrum, f{k + 1} (d: drift)", xlabel="Hz")

    def draw_drift(self, k: int) -> None:
        """The output's phase error against the target (left axis, degrees)
        and its instantaneous frequency (right axis, Hz) over the test set."""
        drift = self.evaluated.evaluation.drift
        row = drift.summary[k]
        rate = "no phase" if row.drift_deg_per_s is None else f"{row.drift_deg_per_s:+.1f}°/s"
        self.query_one("#spectrum-chart", LineChart).show(drift.t, [
            Series("phase error °", drift.phase_error_deg[k], marker="braille", color="magenta"),
            # rounded: a steady frequency would otherwise label its axis with float noise
            Series("output Hz (right)", np.round(drift.frequency_hz[k], 3), marker="dot", color="cyan", yside="right"),
        ], title=f"Drift f{k + 1}: {rate} (d: spectrum)", xlabel="t [s]")

    # ---- actions --------------------------------------------------------------
    def action_frequency(self, index: int) -> None:
        if self.evaluated is not None and index < self.evaluated.evaluation.test.n_frequencies:
            self.frequency_index = index
            self.draw_charts()

    def action_verdict(self) -> None:
        if self.evaluated is not None:
            self.app.push_screen(TextDialog("Verdict", self.evaluated.evaluation.scores.verdict.text))

    def action_toggle_drift(self) -> None:
        self.show_drift = not self.show_drift
        self.draw_charts()

    def action_next_frequency(self) -> None:
        if self.evaluated is not None:
            self.frequency_index = (self.frequency_index + 1) % self.evaluated.evaluation.test.n_frequencies
            self.draw_charts()

    def action_export(self) -> None:
        if self.evaluated is None:
            self.notify("Nothing to export yet", severity="warning")
            return
        self.notify(f"Exporting report to {self.evaluated.run_dir.path} ...")
        self.run_worker(partial(api.export_report, self.evaluated), name="export", group="export",
                        thread=True, exclusive=True, exit_on_error=False)

    def action_extract_audio(self) -> None:
        """`freq-tui extract` for this run: ask for a WAV file, run the run's
        best.pt on it off the UI thread, write <stem>-components/ into the run."""
        if self.evaluated is None:
            self.notify("Open a run first", severity="warning")
            return
        run_dir = self.evaluated.run_dir.path

        def chosen(path: Optional[str]) -> None:
            if path:
                self.notify(f"Extracting {path} ...")
                self.run_worker(partial(api.extract_audio, path, run_dir),
                                name="extract", group="extract", thread=True, exclusive=True, exit_on_error=False)

        self.app.push_screen(PathDialog("WAV file to run this model on (8-32 bit PCM or float)"), chosen)

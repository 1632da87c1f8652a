"""Train: progress with ETA, live loss and waveform charts, and a log.

The screen reads the app's TrainingSession. It is told when the session
changes and redraws at most REDRAW_INTERVAL_S apart (the final state of a run
is drawn at once), so a fast trainer never floods the terminal.
"""
from __future__ import annotations

import time
from functools import partial

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Label, ProgressBar, RichLog, Static

from ..session import TrainingSession, format_eta
from ..widgets.charts import LineChart, Series
from ..widgets.info import InfoLine

REDRAW_INTERVAL_S = 0.25  # progress text and bars
CHART_INTERVAL_S = 1.0  # plotext figures cost tens of ms each to build


class TrainScreen(Screen):
    BINDINGS = [
        Binding("s", "stop", "Stop"),
        Binding("f", "next_frequency", "Next Hz", show=False),  # the chart title says "1-4, f"; the footer is full
        Binding("1", "frequency(0)", "Hz 1", show=False),
        Binding("2", "frequency(1)", "Hz 2", show=False),
        Binding("3", "frequency(2)", "Hz 3", show=False),
        Binding("4", "frequency(3)", "Hz 4", show=False),
        Binding("e", "evaluate", "Evaluate"),
        Binding("l", "toggle_log", "Log y"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.frequency_index = 0
        self._last_draw = 0.0
        self._pending: Timer | None = None
        self._drawn_epochs = -1
        self._drawn_preview = None
        self._drawn_frequency = -1
        self._log_written = 0
        self._drawn_run = None
        self._status_text = ""
        self._last_chart_draw = 0.0
        self.log_y = False  # the loss chart's y axis (l): losses span 0.5 to 0.001

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("No training yet: start one on Configure (F2) or attach to a run on Runs (F5).", id="train-status")
        with Horizontal(classes="progress-row"):
            yield Label("Epochs ", classes="progress-label")
            yield ProgressBar(id="epochs", show_eta=False)
            yield InfoLine(id="epochs-info", classes="progress-info")
        with Horizontal(classes="progress-row"):
            yield Label("Batches", classes="progress-label")
            yield ProgressBar(id="batches", show_eta=False)
            yield InfoLine(id="batches-info", classes="progress-info")
        with Horizontal(id="charts"):
            yield LineChart("Loss (MSE)", id="loss-chart")
            yield LineChart("Output vs target", id="wave-chart")
        yield RichLog(id="log", max_lines=500, wrap=False, markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Train"
        self.app.session_changed.subscribe(self, self.session_changed)
        self.draw()

    @property
    def session(self) -> TrainingSession:
        return self.app.session

    # ---- throttled redraw ---------------------------------------------------
    def session_changed(self, final: bool) -> None:
        if final:
            self.draw()
            return
        wait = REDRAW_INTERVAL_S - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self.draw(final=False)
        elif self._pending is None:
            self._pending = self.set_timer(wait, partial(self.draw, False))

    def on_screen_resume(self) -> None:
        self.draw()

    def draw(self, final: bool = True) -> None:
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        self._last_draw = time.monotonic()
        session = self.session
        if self._drawn_run != (session.run_dir, session.source):
            # A new run: start the charts and the log afresh.
            self._drawn_run = (session.run_dir, session.source)
            self._drawn_epochs = -1
            self._drawn_preview = False  # never a session's preview: the chart redraws
            self._log_written = 0
            self.query_one("#log", RichLog).clear()
            for bar in ("#epochs", "#batches"):
                self.query_one(bar, ProgressBar).update(total=1, progress=0)
            for info in ("#epochs-info", "#batches-info"):
                self.query_one(info, InfoLine).text = ""
        self.draw_status(session)
        self.draw_progress(session)
        self.draw_log(session)
        stale = len(session.history) != self._drawn_epochs or session.preview is not self._drawn_preview
        if not stale:
            return
        wait = CHART_INTERVAL_S - (self._last_draw - self._last_chart_draw)
        if final or wait <= 0:
            self._last_chart_draw = self._last_draw
            self.draw_loss(session)
            self.draw_wave(session)
        elif self._pending is None:
            self._pending = self.set_timer(wait, self.draw)

    def draw_status(self, session: TrainingSession) -> None:
        status = self.query_one("#train-status", Static)
        if session.source == "none":
            return
        where = "followed" if session.source == "follow" else "training"
        device = f" on {session.device}" if session.device else ""
        note = f": {session.message}" if session.message and not session.active else ""
        if session.resumed and session.state != "starting":
            where = f"resumed from epoch {session.start_epoch - 1}, {where}"
        text = f"{session.state.upper()}{note}\n{where} {session.run_dir}{device}"
        if text != self._status_text:  # Static.update costs a layout pass
            self._status_text = text
            status.update(text)

    def draw_progress(self, session: TrainingSession) -> None:
        epochs = self.query_one("#epochs", ProgressBar)
        batches = self.query_one("#batches", ProgressBar)
        if session.total_epochs:
            epochs.update(total=session.total_epochs, progress=session.epochs_done)
            last = session.history[-1] if session.history else None
            val = f" val {last.val_loss:.4f}" if last else ""
            self.query_one("#epochs-info", InfoLine).text = (
                f"{session.epochs_done}/{session.total_epochs}{val} eta {format_eta(session.epoch_eta_s())}")
        if session.source == "follow":
            self.query_one("#batches-info", InfoLine).text = "per-epoch only when following a run"
        elif session.batches_per_epoch:
            batches.update(total=session.batches_per_epoch, progress=session.batch)
            loss = f" loss {session.batch_loss:.4f}" if session.batch else ""
            eta = format_eta(session.batch_eta_s()) if session.active else "--:--"
            self.query_one("#batches-info", InfoLine).text = (
                f"{session.batch}/{session.batches_per_epoch}{loss} eta {eta}")

    def draw_loss(self, session: TrainingSession, force: bool = False) -> None:
        if len(session.history) == self._drawn_epochs and not force:
            return
        self._drawn_epochs = len(session.history)
        chart = self.query_one("#loss-chart", LineChart)
        if not session.history:
            chart.clear("waiting for the first epoch")
            return
        epochs = [r.epoch for r in session.history]
        chart.show(epochs, [
            Series("train", [r.train_loss for r in session.history], marker="dot", color="cyan"),
            Series("val", [r.val_loss for r in session.history], marker="x", color="orange"),
        ], title=f"Loss (MSE), {'log' if self.log_y else 'linear'} y (l)", xlabel="epoch", ylog=self.log_y)

    def draw_wave(self, session: TrainingSession) -> None:
        preview = session.preview
        if preview is self._drawn_preview and self.frequency_index == self._drawn_frequency:
            return
        self._drawn_preview, self._drawn_frequency = preview, self.frequency_index
        chart = self.query_one("#wave-chart", LineChart)
        if preview is None or preview.output.size == 0:
            chart.clear("waiting for the first epoch")
            return
        k = min(self.frequency_index, preview.output.shape[0] - 1)
        hz = f"{session.frequencies[k]:g} Hz" if k < len(session.frequencies) else ""
        chart.show(preview.t, [
            Series("output", preview.output[k], marker="braille", color="magenta"),
            Series("target", preview.target[k], marker="dot", color="green"),
        ], title=f"f{k + 1} {hz} val window (1-4, f)", xlabel="t [s]")

    def draw_log(self, session: TrainingSession) -> None:
        log = self.query_one("#log", RichLog)
        lines = session.log
        for line in lines[self._log_written:]:
            log.write(line)
        self._log_written = len(lines)

    # ---- actions --------------------------------------------------------------
    def action_stop(self) -> None:
        self.app.action_stop_training()

    def action_frequency(self, index: int) -> None:
        preview = self.session.preview
        count = preview.output.shape[0] if preview is not None and preview.output.size else 4
        if index < count:
            self.frequency_index = index
            self.draw_wave(self.session)

    def action_next_frequency(self) -> None:
        preview = self.session.preview
        count = preview.output.shape[0] if preview is not None and preview.output.size else 1
        self.frequency_index = (self.frequency_index + 1) % max(count, 1)
        self.draw_wave(self.session)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.draw_loss(self.session, force=True)

    def action_evaluate(self) -> None:
        if not self.session.run_dir:
            self.notify("No run yet", severity="warning")
            return
        if self.session.active:
            self.notify("The run is still training: evaluate it when it ends (or stop it with s)", severity="warning")
            return
        self.app.open_evaluation(self.session.run_dir)

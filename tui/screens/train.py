"""Train: progress with ETA, live loss and waveform charts, and a log.

The screen reads the app's TrainingSession and draws it whenever the app says
it changed. Each widget is handed what it should show and changes only where
that differs from what it shows: a chart rebuilds for new epochs or a new
preview, the log appends its new lines, a progress line repaints itself
alone. How often that is is up to the sources: the trainer reports batches
5 times a second, the worker sends finished epochs once a second at most
(tui/worker.py), a followed run is looked at once a second (tui/follow.py).
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Label

from lstm_core.formatting import mse

from ..session import STARTING, TrainingSession, format_eta
from ..widgets.info import InfoLine
from ..widgets.training import LossChart, RunLog, RunProgress, WaveChart

NO_RUN = "No training yet: start one on Configure (F2) or attach to a run on Runs (F5)."


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
        self.frequency_index = 0  # the waveform chart's frequency (1-4, f)
        self.log_y = False  # the loss chart's y axis (l): losses span 0.5 to 0.001

    def compose(self) -> ComposeResult:
        yield Header()
        yield InfoLine(id="train-status")
        with Horizontal(classes="progress-row"):
            yield Label("Epochs ", classes="progress-label")
            yield RunProgress(id="epochs")
            yield InfoLine(id="epochs-info", classes="progress-info")
        with Horizontal(classes="progress-row"):
            yield Label("Batches", classes="progress-label")
            yield RunProgress(id="batches")
            yield InfoLine(id="batches-info", classes="progress-info")
        with Horizontal(id="charts"):
            yield LossChart(id="loss-chart")
            yield WaveChart(id="wave-chart")
        yield RunLog(id="log")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Train"
        self.app.session_changed.subscribe(self, self.session_changed, immediate=True)
        self.draw()

    @property
    def session(self) -> TrainingSession:
        return self.app.session

    def session_changed(self, session: TrainingSession) -> None:
        self.draw()

    def on_screen_resume(self) -> None:
        self.draw()

    def draw(self) -> None:
        session = self.session
        self.draw_status(session)
        self.draw_progress(session)
        self.draw_loss(session)
        # Each chart builds its figure while it is painted (15-30 ms on a
        # small CPU). New epochs change both: the waveform is handed over
        # after the next frame, so the two builds fall in different frames
        # and a key press never waits behind both.
        self.call_after_refresh(self.draw_wave, session)
        self.query_one(RunLog).show(session.log)

    def draw_status(self, session: TrainingSession) -> None:
        if session.source == "none":
            text = NO_RUN
        else:
            where = "followed" if session.source == "follow" else "training"
            device = f" on {session.device}" if session.device else ""
            note = f": {session.message}" if session.message and not session.active else ""
            if session.resumed and session.state != STARTING:
                where = f"resumed from epoch {session.start_epoch - 1}, {where}"
            text = f"{session.state.upper()}{note}\n{where} {session.run_dir}{device}"
        self.query_one("#train-status", InfoLine).text = text

    def draw_progress(self, session: TrainingSession) -> None:
        last = session.history[-1] if session.history else None
        val = f" val {mse(last.val_loss)}" if last else ""
        epochs = f"{session.epochs_done}/{session.total_epochs}{val} eta {format_eta(session.epoch_eta_s())}"
        self.set_progress("epochs", session.total_epochs, session.epochs_done, epochs if session.total_epochs else "")
        if session.source == "follow":
            self.set_progress("batches", 0, 0, "per-epoch only when following a run")
        elif session.batches_per_epoch:
            loss = f" loss {mse(session.batch_loss)}" if session.batch else ""
            eta = format_eta(session.batch_eta_s()) if session.active else "--:--"
            self.set_progress("batches", session.batches_per_epoch, session.batch,
                              f"{session.batch}/{session.batches_per_epoch}{loss} eta {eta}")
        else:
            self.set_progress("batches", 0, 0, "")

    def set_progress(self, name: str, total: int, done: int, text: str) -> None:
        self.query_one(f"#{name}", RunProgress).update(total=total or 1, progress=done)
        self.query_one(f"#{name}-info", InfoLine).text = text

    def draw_loss(self, session: TrainingSession) -> None:
        self.query_one(LossChart).plot(session.history, self.log_y)

    def draw_wave(self, session: TrainingSession) -> None:
        self.query_one(WaveChart).plot(session.preview, self.frequency_index, session.frequencies)

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
        self.draw_loss(self.session)

    def action_evaluate(self) -> None:
        if not self.session.run_dir:
            self.notify("No run yet", severity="warning")
            return
        if self.session.active:
            self.notify("The run is still training: evaluate it when it ends (or stop it with s)", severity="warning")
            return
        self.app.open_evaluation(self.session.run_dir)

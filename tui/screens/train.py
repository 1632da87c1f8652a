"""Train: progress with ETA, live loss and waveform charts, and a log.

The screen reads the app's TrainingSession and draws it whenever the app says
it changed. Each widget is handed what it should show and changes only where
that differs from what it shows: a chart rebuilds for new epochs or a new
preview, the log appends its new lines, a progress line repaints itself
alone. How often that is is up to the sources: the trainer reports batches
5 times a second, the worker sends finished epochs once a second at most
(tui/worker.py), a followed run is looked at once a second (tui/follow.py).
The line about the machine (CPU, memory, GPU) is sampled once a second
while the screen is shown, on the UI thread (microseconds a look).
"""
from __future__ import annotations

from typing import Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Label
from textual.worker import Worker, WorkerState

from lstm_core.events import SYSTEM_FIELDS
from lstm_core.api import GPU_FIELDS, SystemSample, SystemSampler, cuda_index

from lstm_core.formatting import mse

from ..session import STARTING, TrainingSession, format_eta
from ..widgets.info import InfoLine
from ..widgets.system import SystemLine
from ..widgets.training import LossChart, RunLog, RunProgress, WaveChart

SYSTEM_INTERVAL_S = 1.0  # the machine's line is sampled this often while the screen is shown
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
        self.sampler: Optional[SystemSampler] = None
        self.sampler_device: Optional[str] = None  # the device it samples, or is being opened for
        self.sampler_failed: Optional[SystemSample] = None  # why there is no sampler, if opening it failed

    def compose(self) -> ComposeResult:
        yield Header()
        yield InfoLine(id="train-status")
        yield SystemLine(id="system")
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
        self.system_timer = self.set_interval(SYSTEM_INTERVAL_S, self.draw_system)
        self.draw()
        self.draw_system()

    @property
    def session(self) -> TrainingSession:
        return self.app.session

    def session_changed(self, session: TrainingSession) -> None:
        self.draw()

    def on_screen_resume(self) -> None:
        self.system_timer.resume()
        self.draw()
        self.draw_system()

    def on_screen_suspend(self) -> None:
        self.system_timer.pause()  # nothing sampled while another screen is shown

    # ---- the machine's line -------------------------------------------------------
    def draw_system(self) -> None:
        """Once a second: this process's machine for a run the app trains
        (or no run); for a followed run, the figures of its last epoch (its
        trainer records them; its process may be elsewhere)."""
        session = self.session
        line = self.query_one(SystemLine)
        if session.source == "follow":
            last = session.history[-1] if session.history else None
            figures = {n: getattr(last, n) for n in SYSTEM_FIELDS} if last else {}
            on_gpu = cuda_index(session.device or "") is not None or any(figures.get(n) is not None for n in GPU_FIELDS)
            sample = SystemSample(**figures, on_gpu=on_gpu) if last else None
            line.show(sample, f"(epoch {last.epoch})" if last else "(from its first epoch)")
            return
        device = session.device if session.source == "app" and session.device else "cpu"
        if device != self.sampler_device:
            self.open_sampler(device)
        line.show(self.sampler.sample() if self.sampler is not None else self.sampler_failed)

    def open_sampler(self, device: str) -> None:
        """A sampler for `device`, opened on a thread: starting NVML can take
        a moment, and the screen never waits for it."""
        if self.sampler is not None:
            self.sampler.close()
        self.sampler, self.sampler_device, self.sampler_failed = None, device, None
        self.run_worker(lambda: SystemSampler(device), name=f"sampler {device}", group="sampler", thread=True,
                        exclusive=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "sampler":
            return
        if worker.state == WorkerState.ERROR and worker.name == f"sampler {self.sampler_device}":
            error = worker.error
            self.sampler_failed = SystemSample(unread={"cpu": f"sampler failed: {error.__class__.__name__}: {error}"})
            self.draw_system()
            return
        if worker.state != WorkerState.SUCCESS:
            return
        if worker.name == f"sampler {self.sampler_device}":
            self.sampler = worker.result  # its CPU baseline is its start: the next look has a load
            self.draw_system()
        else:
            worker.result.close()  # opened for a device no longer shown

    def on_unmount(self) -> None:
        if self.sampler is not None:
            self.sampler.close()

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

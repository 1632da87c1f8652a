"""freq-tui: the Textual application.

The app owns the training worker and the TrainingSession the Train screen
draws, so switching screens never stops or loses a run. Each screen is a
mode with its own stack (F2-F6); F1 opens help; ctrl+p the command palette.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Optional

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from lstm_core import api
from lstm_core.api import EXIT_OK, EXIT_USAGE, RunConfig, RunStatus, StopFlag, UserError, epoch_line
from lstm_core.config import load_config_file, load_toml
from lstm_core.formatting import mse

from .follow import RunFollower
from .locale_check import utf8_problem
from .messages import BatchesDone, EpochsDone, TrainerStopped, TrainingEnded, TrainingFailed, TrainingStarted
from .terminal import TerminalGone, hangup_aware
from .screens.configure import ConfigureScreen
from .screens.dialogs import ConfirmDialog, ErrorDialog, failure_text
from .screens.evaluate import EvaluateScreen
from .screens.help import HelpScreen
from .screens.runs import RunsScreen
from .screens.train import TrainScreen
from .screens.tune import TuneScreen
from .session import EVALUATING, STARTING, TrainingSession


class FreqApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "freq-tui"
    MODES = {"configure": ConfigureScreen, "train": TrainScreen, "evaluate": EvaluateScreen, "runs": RunsScreen,
             "tune": TuneScreen}
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "switch_mode('configure')", "Config"),
        Binding("f3", "switch_mode('train')", "Train"),
        Binding("f4", "switch_mode('evaluate')", "Eval"),
        Binding("f5", "switch_mode('runs')", "Runs"),
        Binding("f6", "switch_mode('tune')", "Tune"),
        Binding("ctrl+q", "request_quit", "Quit", priority=True),
    ]

    def __init__(self, settings: Optional[dict[str, Any]] = None, runs_root: str | Path = "runs") -> None:
        super().__init__()
        self.initial_settings = dict(settings or {})  # raw values the form starts with
        self.runs_root = str(runs_root)
        self.session = TrainingSession()
        self.session_changed: Signal[TrainingSession] = Signal(self, "session-changed")
        self.stop_flag: Optional[StopFlag] = None
        self.on_hangup = "continue"  # the training run's setting (config.on_hangup)
        self.hung_up = False  # the terminal went away: the app has stopped drawing
        self.evaluation_target: Optional[str] = None
        self.evaluation_requests = 0  # how often a run was opened on Evaluate
        # The evaluation an app run ended with: Evaluate shows it as it is
        # (r evaluates best.pt again).
        self.carried_evaluation: Optional[api.RunEvaluation] = None
        self._follower: Optional[RunFollower] = None  # a run another process writes, followed on Train
        self.study_stop: Optional[StopFlag] = None  # the Tune screen's running study

    def on_mount(self) -> None:
        # Not DEFAULT_MODE = "configure": on Python >= 3.12 Textual starts
        # tasks eagerly, so the form's Inputs are built before that mode's
        # screen stack exists, and an Input's first value then raises
        # ScreenStackError (Textual 8.2). Switching once the default
        # screen is up avoids that. tests/test_app_terminal.py starts the
        # real app in a pseudo-terminal to keep it so.
        self.switch_mode("configure")
        hangup = getattr(signal, "SIGHUP", None)
        if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:  # nohup'd: stays ignored
            asyncio.get_running_loop().add_signal_handler(hangup, self.terminal_hung_up)
        if not self.is_headless and os.isatty(0):  # an idle app writes nothing: look once a second
            self.set_interval(1.0, self._check_terminal)

    def get_driver_class(self):
        return hangup_aware(super().get_driver_class())

    def _check_terminal(self) -> None:
        if not os.isatty(0):  # a hung-up terminal answers no ioctl
            self.terminal_hung_up()

    def on_terminal_gone(self, message: TerminalGone) -> None:
        self.terminal_hung_up()

    def terminal_hung_up(self) -> None:
        """SIGHUP: the terminal is gone (an SSH drop, a closed window). Stop
        drawing and send all output nowhere. A run the worker trains goes on
        to its end exactly as headless (on_hangup = continue) or stops at the
        end of its batch, marked interrupted (stop); the process ends when
        the worker does (run_app)."""
        if self.hung_up:
            return
        api.detach_from_terminal()
        self.hung_up = True
        if self.training_active and self.stop_flag is not None and self.on_hangup == "stop":
            self.stop_flag.request(RunStatus.INTERRUPTED)
        self.exit(0)

    # ---- session updates (UI thread) ----------------------------------------
    def publish(self) -> None:
        self.session_changed.publish(self.session)

    @property
    def training_active(self) -> bool:
        return self.session.source == "app" and self.session.active

    def start_training(self, config: RunConfig) -> bool:
        if self.training_active:
            self.notify("A run is already training: stop it first (s on Train)", severity="warning")
            return False
        self.stop_following()
        try:
            run_dir = api.new_run_dir(config, self.runs_root)  # device, precision, memory checked first
        except (UserError, OSError) as exc:
            self.push_screen(ErrorDialog("Cannot start training", failure_text(exc)))
            return False
        from .worker import train_in_worker

        self._launch(config, str(run_dir.path), partial(train_in_worker, config, run_dir), f"run directory {run_dir.path}")
        return True

    def resume_run(self, path: str) -> bool:
        """Continue an interrupted or stale run in the app's worker, as
        `freq-tui train --resume PATH` would (the same api.resume_run)."""
        if self.training_active:
            self.notify("A run is already training: stop it first (s on Train)", severity="warning")
            return False
        try:
            run = api.open_run(path)
            config = run.read_config()
            run.check_resumable()
        except (UserError, OSError) as exc:
            self.push_screen(ErrorDialog("Cannot resume run", failure_text(exc)))
            return False
        self.stop_following()
        from .worker import resume_in_worker

        self._launch(config, str(run.path), partial(resume_in_worker, str(run.path)), f"resuming {run.path}",
                     resumed=True)
        return True

    def _launch(self, config: RunConfig, run_dir: str, work, log_line: str, resumed: bool = False) -> None:
        """`work(stop, post)` is the worker's body (worker.py)."""
        self.stop_flag = StopFlag()
        self.on_hangup = config.on_hangup
        self.session = TrainingSession(run_dir=run_dir, source="app", state=STARTING, resumed=resumed,
                                       total_epochs=config.epochs, frequencies=list(config.frequencies))
        self.session.add_log(log_line)
        self.publish()
        # Show the Train screen first and start the worker once it is drawn:
        # building the screen then does not compete with the first epoch.
        self.switch_mode("train")
        self.call_after_refresh(self.run_worker, partial(work, self.stop_flag, self.post_message),
                                name="training", group="training", thread=True, exclusive=True, exit_on_error=False)

    def on_training_started(self, message: TrainingStarted) -> None:
        s, event = self.session, message.event
        s.state, s.device = RunStatus.RUNNING, event.device
        s.total_epochs, s.batches_per_epoch, s.start_epoch = event.total_epochs, event.batches_per_epoch, event.start_epoch
        s.epoch, s.batch, s.epoch_started_at = event.start_epoch, 0, time.monotonic()
        if s.resumed:  # the epochs before, as api.resume_run left them in metrics.jsonl
            s.history = [r for r in api.open_run(s.run_dir).read_metrics() if r.epoch < event.start_epoch]
            s.log.extend(epoch_line(r) for r in s.history)
            s.add_log(f"resumed from epoch {event.start_epoch - 1}")
        s.add_log(f"training on {event.device}: {event.total_epochs} epochs x {event.batches_per_epoch} updates")
        self.publish()

    def on_batches_done(self, message: BatchesDone) -> None:
        s, event = self.session, message.event
        s.epoch, s.batch, s.batch_loss = event.epoch, event.batch, event.loss
        s.batches_per_epoch = event.batches_per_epoch
        self.publish()

    def on_epochs_done(self, message: EpochsDone) -> None:
        s = self.session
        if message.run_dir is not None and message.run_dir != s.run_dir:
            return  # from a follower stopped since
        for record in message.records:
            s.history.append(record)
            s.log.append(epoch_line(record))
        if message.preview is not None:
            s.preview = message.preview
        s.epoch, s.batch, s.epoch_started_at = s.epochs_done + 1, 0, time.monotonic()
        self.publish()

    def on_trainer_stopped(self, message: TrainerStopped) -> None:
        event = message.event
        self.session.state = EVALUATING
        self.session.message = event.message
        self.session.add_log(f"{event.status}: {event.message}; evaluating on the test set")
        self.publish()

    def on_training_ended(self, message: TrainingEnded) -> None:
        s, outcome = self.session, message.outcome
        status, run_dir = outcome.training.status, str(outcome.run_dir.path)
        if run_dir != s.run_dir:
            return  # from a follower stopped since
        self._follower = None
        s.state, s.message, s.results = status, outcome.training.message, outcome.results
        if api.is_complete(status):
            s.batch = s.batches_per_epoch  # the last epoch is whole
        if outcome.results:
            scores = outcome.results.scores
            s.add_log(f"test MSE {mse(scores.test_mse)}  train MSE {mse(scores.train_mse)}")
            self.evaluation_target = run_dir
            self.carried_evaluation = outcome.evaluated
        s.add_log(f"done ({status}). Press e to evaluate." if outcome.results else f"ended ({status}): {s.message}")
        self.publish()
        self.notify(f"Run {status}: {run_dir}", title="Training")

    def on_training_failed(self, message: TrainingFailed) -> None:
        self.session.state = RunStatus.FAILED
        self.session.message = message.error
        self.session.add_log(f"failed: {message.error}")
        self.publish()
        if self._exit:  # quitting: nobody is left to read a dialog
            return
        self.push_screen(ErrorDialog("Training failed", f"{message.error}\n\nRun directory: {message.run_dir}"))

    def action_stop_training(self) -> None:
        if not self.training_active or self.stop_flag is None:
            if self._follower is not None:
                self.stop_following()
                self.notify("Stopped following (the run itself goes on)")
            else:
                self.notify("No training is running", severity="warning")
            return
        self.stop_flag.request(RunStatus.CANCELLED)
        self.session.add_log("stop requested: finishing the current batch")
        self.publish()

    # ---- following a run another process writes -----------------------------
    def follow_run(self, path: str) -> None:
        """Show a run another process writes on Train: a RunFollower posts
        the messages the app's own worker would (follow.py)."""
        if self.training_active:
            self.notify("The app is training: stop it before following another run", severity="warning")
            return
        try:
            run = api.open_run(path)
            config = run.read_config()
        except (UserError, OSError) as exc:
            self.push_screen(ErrorDialog("Cannot follow run", failure_text(exc)))
            return
        self.stop_following()
        self.session = TrainingSession(run_dir=str(run.path), source="follow", state=run.state(),
                                       total_epochs=config.epochs, frequencies=list(config.frequencies))
        self.session.add_log(f"following {run.path}")
        self.publish()
        self._follower = RunFollower(run, self.post_message)
        self.run_worker(self._follower.follow, name="follow", group="follow", thread=True, exclusive=True,
                        exit_on_error=False)
        self.switch_mode("train")

    def stop_following(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None

    def on_unmount(self) -> None:
        self.stop_following()  # its thread would keep the process from ending

    # ---- evaluation -------------------------------------------------------------
    def open_evaluation(self, path: str) -> None:
        self.evaluation_target = path
        self.evaluation_requests += 1
        self.switch_mode("evaluate")

    # ---- app-wide actions -------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def form_settings(self) -> dict[str, Any]:
        """The Configure form's raw values (the Tune screen starts from them)."""
        for screen in self._screen_stacks.get("configure", []):
            if isinstance(screen, ConfigureScreen):
                return screen.raw_values()
        return dict(self.initial_settings)

    def action_request_quit(self) -> None:
        if self.study_stop is not None:  # its running trials fail at their next batch; the study resumes later
            self.study_stop.request("cancelled")
        if not self.training_active:
            self.exit(0)
            return

        def answered(stop: bool | None) -> None:
            if stop:
                if self.stop_flag is not None:
                    self.stop_flag.request(RunStatus.CANCELLED)
                self.exit(0)

        self.push_screen(ConfirmDialog("Training is running. Stop it (checkpoints are kept) and quit?"), answered)

    def action_resume(self) -> None:
        """The palette's Resume: the run selected on Runs, else the stopped
        or stale run the Train screen shows."""
        if isinstance(self.screen, RunsScreen):
            self.screen.action_resume()
        elif self.session.run_dir and not self.session.active and not api.is_ended(self.session.state):
            self.resume_run(self.session.run_dir)
        else:
            self.switch_mode("runs")
            self.notify("Choose an interrupted or stale run and press R", title="Resume")

    def action_export(self) -> None:
        self.switch_mode("evaluate")
        self.call_after_refresh(lambda: self._screen_action("export"))

    def action_extract_audio(self) -> None:
        self.switch_mode("evaluate")
        self.call_after_refresh(lambda: self._screen_action("extract_audio"))

    def _screen_action(self, name: str) -> None:
        action = getattr(self.screen, f"action_{name}", None)
        if action is not None:
            action()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start training", "Train with the configuration in the form", self._start_from_form)
        yield SystemCommand("Stop training", "Finish the current batch, keep checkpoints, mark the run cancelled",
                            self.action_stop_training)
        yield SystemCommand("Resume run", "Continue an interrupted or stale run from its last.pt (Runs, key R)",
                            self.action_resume)
        yield SystemCommand("Export report", "Write the report and PNG figures into the run directory",
                            self.action_export)
        yield SystemCommand("Extract audio", "Run the evaluated run's model on a WAV file (Evaluate, key a)",
                            self.action_extract_audio)
        yield SystemCommand("Load config", "Fill the form from a TOML file", partial(self._configure_action, "load"))
        yield SystemCommand("Save config", "Save the form as a TOML file", partial(self._configure_action, "save"))
        for mode, text in (("configure", "Configure"), ("train", "Train"), ("evaluate", "Evaluate"), ("runs", "Runs"),
                           ("tune", "Tune")):
            yield SystemCommand(f"Go to {text}", f"Show the {text} screen", partial(self.switch_mode, mode))

    def _configure_action(self, name: str) -> None:
        self.switch_mode("configure")
        self.call_after_refresh(lambda: self._screen_action(name))

    def _start_from_form(self) -> None:
        self._configure_action("start")


def run_app(config_path: Optional[str] = None, runs_root: str | Path = "runs") -> int:
    """Open the app, the form filled from `config_path` if given. A config
    file that cannot be read or is invalid is a one-line error, exit 2."""
    problem = utf8_problem()
    if problem:  # before Textual: boxes and braille would draw as garbage
        print(f"freq-tui: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    settings: dict[str, Any] = {}
    if config_path:
        try:
            load_config_file(config_path)  # names the file and the field
            settings = load_toml(config_path)
        except UserError as exc:
            print(f"freq-tui: error: {exc}", file=sys.stderr)
            return exc.exit_code
    app = FreqApp(settings, runs_root=runs_root)
    app.run()  # returns once the worker's thread has ended too
    if app.hung_up:
        return EXIT_OK
    if app.training_active:
        # Quit while training: the worker finishes its batch, evaluates and
        # writes the run's files before the process can end.
        print(f"freq-tui: stopping the run in {app.session.run_dir} (checkpoints are kept)...", file=sys.stderr)
    return app.return_code or EXIT_OK

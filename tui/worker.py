"""The training worker's side: trainer events in, app messages out.

Everything here runs on the worker thread. It never touches a widget; it
only calls `post` (the app's thread-safe `post_message`) with small messages.
Epoch ends are coalesced so the UI gets at most one EpochsDone a second
however fast the epochs go (each rebuilds the Train screen's two charts);
batch progress is already throttled by the trainer (5 per second), and
epochs held back go out with the next batch progress that finds their second
over.
"""
from __future__ import annotations

import time
from functools import partial
from typing import Callable, Optional

from textual.message import Message

from lstm_core import api
from lstm_core.api import (BatchProgress, EpochEnd, EpochRecord, Preview, RunConfig, RunDir, RunEnded, RunOutcome,
                           RunStarted, StopFlag, TrainerEvent)

from .messages import BatchesDone, EpochsDone, TrainerStopped, TrainingEnded, TrainingFailed, TrainingStarted

EPOCH_POST_INTERVAL_S = 1.0


class EventBridge:
    def __init__(self, post: Callable[[Message], object], run_dir: str, clock: Callable[[], float] = time.monotonic):
        self.post = post
        self.run_dir = run_dir
        self.clock = clock
        self.pending: list[EpochRecord] = []
        self.preview: Optional[Preview] = None
        self.last_epoch_post = -float("inf")

    def __call__(self, event: TrainerEvent) -> None:
        if isinstance(event, RunStarted):
            self.post(TrainingStarted(self.run_dir, event))
        elif isinstance(event, BatchProgress):
            self.flush_if_due()
            self.post(BatchesDone(event))
        elif isinstance(event, EpochEnd):
            self.pending.append(event.record)
            self.preview = event.preview
            self.flush_if_due()
        elif isinstance(event, RunEnded):
            self.flush()
            self.post(TrainerStopped(event))

    def flush_if_due(self) -> None:
        if self.clock() - self.last_epoch_post >= EPOCH_POST_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.post(EpochsDone(self.pending, self.preview, self.run_dir))
            self.pending = []
            self.last_epoch_post = self.clock()


def train_in_worker(config: RunConfig, run_dir: RunDir, stop: StopFlag, post: Callable[[Message], object]) -> None:
    """The body of the app's thread worker for a new run."""
    _work(lambda bridge: api.start_run(config, run_dir=run_dir, on_event=bridge, stop=stop), str(run_dir.path), post)


def resume_in_worker(path: str, stop: StopFlag, post: Callable[[Message], object]) -> None:
    """The body of the app's thread worker continuing a run: the same
    `resume_run` as `freq-tui train --resume`."""
    _work(lambda bridge: api.resume_run(path, on_event=bridge, stop=stop), path, post)


def _work(run: Callable[[EventBridge], RunOutcome], run_dir: str, post: Callable[[Message], object]) -> None:
    """Every outcome, an exception included, ends in exactly one
    TrainingEnded or TrainingFailed message. A post that fails (the app has
    gone with its terminal, see FreqApp.hung_up) never stops the run."""
    bridge = EventBridge(partial(_post_quietly, post), run_dir)
    try:
        outcome = run(bridge)
    except BaseException as exc:  # shown in a dialog; the app stays up
        bridge.flush()
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        bridge.post(TrainingFailed(f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__, run_dir))
        return
    bridge.flush()
    bridge.post(TrainingEnded(outcome))


def _post_quietly(post: Callable[[Message], object], message: Message) -> None:
    try:
        post(message)
    except RuntimeError:  # the app's event loop is closed
        pass

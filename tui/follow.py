"""Following a run that another process (a headless `freq-tui train`) writes.

A RunFollower asks the core's watcher (`api.follow_run`) once a second what
is new and posts the messages the app's own training worker posts
(tui/messages.py), so the app has one set of handlers for both: EpochsDone
for each new stretch of metrics.jsonl, and TrainingEnded once the run ended
or is stale (its writer is gone). The waveform preview a live run sends is
not on disk; `api.preview` computes it from the run's last.pt. `follow` is
the body of a thread worker; no widgets here.
"""
from __future__ import annotations

import threading
from typing import Callable

from textual.message import Message

from lstm_core import api

from .messages import EpochsDone, TrainingEnded

FOLLOW_INTERVAL_S = 1.0


class RunFollower:
    def __init__(self, run: api.RunDir, post: Callable[[Message], object]) -> None:
        self.watcher = api.follow_run(run)
        self.run = self.watcher.run
        self.post = post
        self.stopped = threading.Event()

    def follow(self) -> None:
        """Look now, then once a second, until the run ends or `stop()`."""
        while self.poll() and not self.stopped.wait(FOLLOW_INTERVAL_S):
            pass

    def stop(self) -> None:
        """Post nothing more (the run itself goes on)."""
        self.stopped.set()

    def poll(self) -> bool:
        """One look at the files: post what is new. False once the run has
        ended (TrainingEnded posted) or following was stopped."""
        try:
            records, outcome = self.watcher.poll()
        except (api.UserError, OSError):  # unreadable for now (replaced, permissions changed): look again later
            records, outcome = [], None
        if records:
            self.send(EpochsDone(records, api.preview(self.run), run_dir=str(self.run.path)))
        if outcome is None:
            return not self.stopped.is_set()
        self.send(TrainingEnded(outcome))
        return False

    def send(self, message: Message) -> None:
        if not self.stopped.is_set():
            self.post(message)

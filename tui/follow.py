"""Following a run that another process (a headless `freq-tui train`) writes.

A RunFollower looks at the run directory once a second and posts the
messages the app's own training worker posts (tui/messages.py), so the app
has one set of handlers for both: EpochsDone for each new stretch of
metrics.jsonl, and TrainingEnded once status.json says the run ended or the
run is STALE (its writer is gone). The waveform preview a live run sends is
not on disk, so it is recomputed from the run's last.pt on the validation
window the trainer previews. `follow` is the body of a thread worker; no
widgets here.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Callable, Optional

import torch
from textual.message import Message

from lstm_core import feeding
from lstm_core.checkpoint import model_from_checkpoint
from lstm_core.data import generate_for
from lstm_core.errors import UserError
from lstm_core.events import EpochRecord, Preview, RunEnded
from lstm_core.rundir import STALE, RunDir
from lstm_core.runner import RunOutcome

from .messages import EpochsDone, TrainingEnded

FOLLOW_INTERVAL_S = 1.0


class RunFollower:
    def __init__(self, run: RunDir, post: Callable[[Message], object]) -> None:
        self.run = run
        self.post = post
        self.history: list[EpochRecord] = []  # the epochs posted so far
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
        state = self.run.state()  # first: once it says ended, metrics.jsonl is whole
        try:
            records = self.new_records()
        except (UserError, OSError):  # unreadable for now (replaced, permissions changed): look again later
            records = []
        if records:
            self.history += records
            self.send(EpochsDone(records, checkpoint_preview(self.run.path), run_dir=str(self.run.path)))
        if state == "running":
            return not self.stopped.is_set()
        self.send(TrainingEnded(self.outcome(state)))
        return False

    def send(self, message: Message) -> None:
        if not self.stopped.is_set():
            self.post(message)

    def new_records(self) -> list[EpochRecord]:
        records = []
        for record in self.run.read_metrics()[len(self.history):]:
            try:
                records.append(EpochRecord.from_json(record))
            except (KeyError, TypeError, ValueError):
                break  # not a record of this program: the rest is not trusted either
        return records

    def outcome(self, state: str) -> RunOutcome:
        """The run's end as the app's worker would report it, from status.json
        and results.json (None where it is missing or damaged: the Evaluate
        screen says which when it is opened)."""
        message = f"process gone; {self.run.resume_hint()}" if state == STALE else self.run.read_status().get("message", "")
        try:
            results = self.run.read_results()
        except UserError:
            results = None
        best = [r for r in self.history if r.is_best]
        training = RunEnded(state, message, self.history[-1].epoch if self.history else 0,
                            best[-1].epoch if best else 0, best[-1].val_loss if best else math.inf,
                            sum(r.epoch_time for r in self.history), tuple(self.history))
        return RunOutcome(self.run, training, results)


def checkpoint_preview(run_dir: str | Path) -> Optional[Preview]:
    """Model output vs target on the start of the validation stream, from
    last.pt (written atomically, so never half a file). None when there is no
    checkpoint yet or it cannot be read."""
    last = Path(run_dir) / "last.pt"
    if not last.is_file():
        return None
    try:
        model, config, _ = model_from_checkpoint(last, "cpu")
    except UserError:
        return None
    val = generate_for(config, config.val_seed)
    n = Preview.length(val.n_samples, val.fs)
    inputs, _ = val.streams()
    with torch.no_grad():
        output = feeding.predict(model, config, torch.from_numpy(inputs[:, :n])).cpu().numpy()
    return Preview.window(val.t, output, val.targets, val.fs)

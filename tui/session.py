"""What the Train screen shows, as plain state on the UI thread.

Two sources feed it through the same messages (tui/messages.py), handled
once in tui/app.py: the app's own training worker and the follower of a run
directory that a headless `freq-tui train` is writing (tui/follow.py). The
screen only reads it, so leaving and re-entering the screen loses nothing.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional

from lstm_core.events import EpochRecord, Preview
from lstm_core.results import Results
from lstm_core.status import RunStatus

# The session's own states around a run's RunStatus: before the worker's
# first event, and while a finished training is evaluated on the test set.
IDLE, STARTING, EVALUATING = "idle", "starting", "evaluating"
ACTIVE = (STARTING, RunStatus.RUNNING, EVALUATING)


@dataclass
class TrainingSession:
    run_dir: str = ""
    source: str = "none"  # none | app | follow
    resumed: bool = False  # the app continues a stopped run (from epoch start_epoch - 1)
    state: str = IDLE  # IDLE, STARTING, RunStatus.RUNNING, EVALUATING, or the run's final RunStatus
    message: str = ""
    device: str = ""
    total_epochs: int = 0
    start_epoch: int = 1
    batches_per_epoch: int = 0
    epoch: int = 0  # epoch in progress (1-based)
    batch: int = 0  # batches done in the epoch in progress
    batch_loss: float = math.nan
    history: list[EpochRecord] = field(default_factory=list)
    preview: Optional[Preview] = None
    frequencies: list[float] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    results: Optional[Results] = None
    # Wall-clock marks for the batch ETA (monotonic seconds).
    epoch_started_at: float = 0.0

    def add_log(self, line: str) -> None:
        self.log.append(line)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def epochs_done(self) -> int:
        return self.history[-1].epoch if self.history else max(0, self.start_epoch - 1)

    def epoch_eta_s(self) -> Optional[float]:
        """Remaining epochs times the mean measured epoch time."""
        times = [r.epoch_time for r in self.history[-10:]]
        if not times or not self.total_epochs:
            return None
        return (self.total_epochs - self.epochs_done) * (sum(times) / len(times))

    def batch_eta_s(self, now: Optional[float] = None) -> Optional[float]:
        if not self.batch or not self.batches_per_epoch or not self.epoch_started_at:
            return None
        elapsed = (now if now is not None else time.monotonic()) - self.epoch_started_at
        return elapsed / self.batch * (self.batches_per_epoch - self.batch)


def format_eta(seconds: Optional[float]) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"



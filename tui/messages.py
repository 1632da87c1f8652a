"""The Textual messages the app's training worker and the run follower post.

Each wraps the core's own event objects (lstm_core.events) once: plain
floats, strings and numpy arrays, never tensors, so the worker thread hands
over values the UI thread can own.
"""
from __future__ import annotations

from typing import Optional

from textual.message import Message

from lstm_core.api import BatchProgress, EpochRecord, Preview, RunEnded, RunOutcome, RunStarted


class TrainingStarted(Message):
    def __init__(self, run_dir: str, event: RunStarted) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.event = event


class BatchesDone(Message):
    def __init__(self, event: BatchProgress) -> None:
        super().__init__()
        self.event = event


class EpochsDone(Message):
    """One or more finished epochs (coalesced when epochs end faster than the
    UI should redraw) and the latest validation preview, if any. `run_dir`
    names the run they belong to: a follower stopped a moment ago may still
    have one on its way."""

    def __init__(self, records: list[EpochRecord], preview: Optional[Preview], run_dir: Optional[str] = None) -> None:
        super().__init__()
        self.records = records
        self.preview = preview
        self.run_dir = run_dir


class TrainerStopped(Message):
    """The training loop is over; the run is being evaluated on the test set."""

    def __init__(self, event: RunEnded) -> None:
        super().__init__()
        self.event = event


class TrainingEnded(Message):
    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class TrainingFailed(Message):
    """An exception escaped the trainer (e.g. CUDA out of memory)."""

    def __init__(self, error: str, run_dir: Optional[str]) -> None:
        super().__init__()
        self.error = error
        self.run_dir = run_dir

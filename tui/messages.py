"""Messages the training worker posts to the app.

They carry plain floats, strings and numpy arrays (never tensors), so the
worker thread hands over copies and the UI thread owns everything it draws.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from textual.message import Message


class TrainingStarted(Message):
    def __init__(self, run_dir: str, total_epochs: int, batches_per_epoch: int, device: str, start_epoch: int) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.total_epochs = total_epochs
        self.batches_per_epoch = batches_per_epoch
        self.device = device
        self.start_epoch = start_epoch


class BatchesDone(Message):
    def __init__(self, epoch: int, batch: int, batches_per_epoch: int, loss: float) -> None:
        super().__init__()
        self.epoch = epoch
        self.batch = batch
        self.batches_per_epoch = batches_per_epoch
        self.loss = loss


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    lr: float
    epoch_time: float
    is_best: bool

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "EpochRecord":
        """One line of a run's metrics.jsonl."""
        return cls(int(record["epoch"]), float(record["train_loss"]), float(record["val_loss"]),
                   float(record.get("lr", 0.0)), float(record.get("epoch_time", 0.0)), bool(record.get("is_best", False)))


@dataclass
class Preview:
    """Model output and target on a validation window, one row per frequency."""

    t: np.ndarray
    output: np.ndarray
    target: np.ndarray


class EpochsDone(Message):
    """One or more finished epochs (coalesced when epochs end faster than the
    UI should redraw) and the latest validation preview."""

    def __init__(self, records: list[EpochRecord], preview: Optional[Preview]) -> None:
        super().__init__()
        self.records = records
        self.preview = preview


class TrainerStopped(Message):
    """The training loop is over; the run is being evaluated on the test set."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__()
        self.status = status
        self.message = message


class TrainingEnded(Message):
    def __init__(self, status: str, message: str, run_dir: str, results: Optional[dict[str, Any]]) -> None:
        super().__init__()
        self.status = status
        self.message = message
        self.run_dir = run_dir
        self.results = results  # results.json content, None when no epoch finished


class TrainingFailed(Message):
    """An exception escaped the trainer (e.g. CUDA out of memory)."""

    def __init__(self, error: str, run_dir: Optional[str]) -> None:
        super().__init__()
        self.error = error
        self.run_dir = run_dir

"""TensorBoard event files for a run, for users who already use it (the
optional extra: pip install 'freq-lstm[tensorboard]').

With `tensorboard = true` the run's epoch metrics also go, as they happen,
into TensorBoard event files in the run directory; `tensorboard --logdir
runs` then shows every run by its directory name. The log is one more
subscriber to the trainer's events (EpochEnd), nothing the trainer knows of.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

from .events import EpochEnd, EventCallback, RunEnded, TrainerEvent

EXTRA = "pip install 'freq-lstm[tensorboard]'"


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLog:
    """Writes each EpochEnd as scalars (loss/train, loss/val, lr,
    epoch_time_s) at step = epoch; closes on RunEnded."""

    def __init__(self, log_dir: Path):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def __call__(self, event: TrainerEvent) -> None:
        if isinstance(event, EpochEnd):
            record = event.record
            for tag, value in (("loss/train", record.train_loss), ("loss/val", record.val_loss), ("lr", record.lr),
                               ("epoch_time_s", record.epoch_time)):
                self.writer.add_scalar(tag, value, record.epoch)
            self.writer.flush()  # a killed run keeps every epoch it finished
        elif isinstance(event, RunEnded):
            self.writer.close()


def with_tensorboard(enabled: bool, log_dir: Path, on_event: Optional[EventCallback]) -> Optional[EventCallback]:
    """`on_event`, and a TensorBoardLog as well when `enabled`."""
    if not enabled:
        return on_event
    log = TensorBoardLog(log_dir)

    def both(event: TrainerEvent) -> None:
        log(event)
        if on_event is not None:
            on_event(event)

    return both

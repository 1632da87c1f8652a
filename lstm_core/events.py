"""What the trainer reports while it runs. Small plain objects (floats and
numpy arrays, never tensors) so a UI thread can take them as they are."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np


@dataclass(frozen=True)
class RunStarted:
    total_epochs: int
    batches_per_epoch: int
    device: str
    start_epoch: int = 1  # > 1 when resuming


@dataclass(frozen=True)
class BatchProgress:
    epoch: int
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    loss: float  # mean training loss of the epoch so far


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    train_loss: float
    val_loss: float
    lr: float
    epoch_time: float
    is_best: bool
    # Model output and target on a window of the validation stream, one row
    # per frequency, for live waveform plots.
    preview_t: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    preview_output: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    preview_target: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    trained_length: Optional[int] = None  # steps from the reset trained on (a curriculum's prefix)


@dataclass(frozen=True)
class RunEnded:
    # finished: ran all epochs; early_stopped: patience ran out;
    # target_reached: validation MSE stayed <= target_mse for target_patience epochs;
    # cancelled: the user stopped it; interrupted: a signal stopped it;
    # diverged: NaN/Inf loss; failed: an error
    status: str
    message: str
    epochs_run: int
    best_epoch: int
    best_val_loss: float


TrainerEvent = Union[RunStarted, BatchProgress, EpochEnd, RunEnded]
EventCallback = Callable[[TrainerEvent], None]

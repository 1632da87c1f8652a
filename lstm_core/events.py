"""What the trainer reports while it runs: one type per event, used as they
are by the console view, the app (each wrapped once in a Textual message)
and the follower of a run another process writes. Small plain objects
(floats and numpy arrays, never tensors) so a UI thread can take them as
they are."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from .status import RunStatus
from .typed_json import from_json

PREVIEW_SECONDS = 1.0  # the validation window sent with each epoch for live plots


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


SYSTEM_FIELDS = ("cpu_percent", "rss_mb", "gpu_util_percent", "gpu_mem_used_mb", "gpu_mem_total_mb", "gpu_temp_c",
                 "gpu_power_w")  # EpochRecord's machine figures, in lstm_core.sysmon's terms


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch: a line of metrics.jsonl, an entry of the history
    in last.pt, a row of the Train screen's chart and log. Its fields and
    their types are metrics.jsonl's one schema (`from_json`); a field added
    later has a default, so older files still read."""

    epoch: int
    train_loss: float
    val_loss: float
    lr: float = 0.0
    epoch_time: float = 0.0
    is_best: bool = False  # its validation loss beat every epoch before it
    trained_length: Optional[int] = None  # a curriculum's prefix: steps from the reset trained on (None: no curriculum)
    # The machine during the epoch (lstm_core/sysmon.py), None where not read:
    cpu_percent: Optional[float] = None  # all cores, mean over the epoch
    rss_mb: Optional[float] = None  # the training process's resident memory at the epoch's end
    gpu_util_percent: Optional[float] = None  # mean over the epoch where NVML keeps samples
    gpu_mem_used_mb: Optional[float] = None
    gpu_mem_total_mb: Optional[float] = None
    gpu_temp_c: Optional[float] = None
    gpu_power_w: Optional[float] = None

    def to_json(self) -> dict[str, Any]:
        """The record's JSON; machine figures that were not read are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in SYSTEM_FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "EpochRecord":
        """From a metrics.jsonl line or a checkpoint's history, each field
        checked against its type. ValueError for a record that is not one."""
        if not isinstance(data, Mapping):
            raise ValueError("not a JSON object")
        return from_json(cls, data)


def best_record(history: Sequence[EpochRecord]) -> Optional[EpochRecord]:
    """The best epoch of a history: the last one the trainer marked best
    (None before the first)."""
    return next((record for record in reversed(history) if record.is_best), None)


@dataclass(frozen=True)
class Preview:
    """Model output and target on the start of the validation stream, one row
    per frequency."""

    t: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    target: np.ndarray = field(repr=False)

    @staticmethod
    def length(n_samples: int, fs: float) -> int:
        """Samples in the window: the first PREVIEW_SECONDS (at least two)."""
        return min(n_samples, max(2, int(round(PREVIEW_SECONDS * fs))))

    @classmethod
    def window(cls, t: np.ndarray, output: np.ndarray, target: np.ndarray, fs: float) -> "Preview":
        """The window of a validation stream; `output` may hold just its first columns."""
        n = cls.length(t.shape[0], fs)
        return cls(np.array(t[:n], dtype=np.float64), np.array(output[:, :n], dtype=np.float64),
                   np.array(target[:, :n], dtype=np.float64))


@dataclass(frozen=True)
class EpochEnd:
    record: EpochRecord
    preview: Preview


@dataclass(frozen=True)
class RunEnded:
    """How training ended; also what `Trainer.fit` returns.
    finished: ran all epochs; early_stopped: patience ran out;
    target_reached: the validation MSE stayed <= target_mse for target_patience epochs;
    cancelled: the user stopped it; interrupted: a signal stopped it;
    diverged: NaN/Inf loss (status.RunStatus lists them all)."""

    status: RunStatus
    message: str
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    train_time_s: float
    history: tuple[EpochRecord, ...] = field(repr=False, default=())


TrainerEvent = Union[RunStarted, BatchProgress, EpochEnd, RunEnded]
EventCallback = Callable[[TrainerEvent], None]


def subscribers(*callbacks: Optional[EventCallback]) -> EventCallback:
    """One callback that hands each event to every one of `callbacks` in turn
    (None skipped): how metrics.jsonl, TensorBoard, the console, the app and
    the --jobs progress all hear the same stream."""
    chain = [callback for callback in callbacks if callback is not None]

    def each(event: TrainerEvent) -> None:
        for callback in chain:
            callback(event)

    return each

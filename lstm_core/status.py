"""A run's status: the one list of the words status.json, results.json, the
console, the app and `freq-tui runs` use, and what each means."""
from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    """A str: it is written to and read from JSON as its value, and prints as
    it (enum.StrEnum, without needing Python 3.11)."""

    __str__ = str.__str__
    __format__ = str.__format__

    RUNNING = "running"
    FINISHED = "finished"  # ran all epochs (or the lr schedule ended)
    EARLY_STOPPED = "early_stopped"  # patience ran out
    TARGET_REACHED = "target_reached"  # validation MSE stayed <= target_mse for target_patience epochs
    DIVERGED = "diverged"  # NaN/Inf loss
    CANCELLED = "cancelled"  # the user stopped it
    INTERRUPTED = "interrupted"  # a signal stopped it
    FAILED = "failed"  # an exception ended it
    STALE = "stale"  # status.json says running, but its writer is gone
    NOT_STARTED = "not_started"  # a job of --jobs that a stop kept from starting
    EVALUATED = "evaluated"  # `freq-tui evaluate`'s output directory: a checkpoint evaluated, nothing trained

    @property
    def ended(self) -> bool:
        """Nothing left to resume."""
        return self in _ENDED_TEXT

    @property
    def complete(self) -> bool:
        """Training ended by its own rule, its last epoch whole."""
        return self in COMPLETE

    @property
    def stopped(self) -> bool:
        """Stopped from outside (a stop, a signal, a stop before its start): it can go on."""
        return self in STOPPED

    @property
    def text(self) -> str:
        """As a sentence says it: "run already reached its target"."""
        return _ENDED_TEXT.get(self, self.value)


COMPLETE = frozenset({RunStatus.FINISHED, RunStatus.EARLY_STOPPED, RunStatus.TARGET_REACHED})
STOPPED = frozenset({RunStatus.CANCELLED, RunStatus.INTERRUPTED, RunStatus.NOT_STARTED})
_ENDED_TEXT = {RunStatus.FINISHED: "finished", RunStatus.EARLY_STOPPED: "stopped early",
               RunStatus.TARGET_REACHED: "reached its target", RunStatus.DIVERGED: "diverged"}
STALE_TEXT = "stale (process gone)"


def status_of(value: object) -> RunStatus | None:
    """The RunStatus a file names, or None for a word that is not one."""
    try:
        return RunStatus(value)
    except ValueError:
        return None


def is_ended(value: object) -> bool:
    """A word from a file names an ended run (nothing to resume)."""
    status = status_of(value)
    return status is not None and status.ended


def is_complete(value: object) -> bool:
    """A word from a file names a run that ended by its own rule."""
    status = status_of(value)
    return status is not None and status.complete


def state_text(state: str) -> str:
    """A status as a table shows it (stale says why)."""
    return STALE_TEXT if state == RunStatus.STALE else str(state)

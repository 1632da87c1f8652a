"""The Tune screen's study, run in a thread worker: the same workers as
`freq-tui tune` (lstm_core.tune), each trial's updates posted as a small
message. After a hang-up the study goes on to its end and writes its report
(the app's process ends when this thread does)."""
from __future__ import annotations

from typing import Callable, Optional

from textual.message import Message

from lstm_core.api import StopFlag, StudySpec, UserError, run_study


class TrialUpdated(Message):
    def __init__(self, update: dict) -> None:
        super().__init__()
        self.update = update


class StudyLoaded(Message):
    """The trials the study already held when it was opened."""

    def __init__(self, rows: dict[int, dict]) -> None:
        super().__init__()
        self.rows = rows


class StudyEnded(Message):
    def __init__(self, stopped: bool, best: Optional[tuple[int, float]], report: str, error: str = "") -> None:
        super().__init__()
        self.stopped = stopped
        self.best = best
        self.report = report  # tune.md's path, or "" where none was written
        self.error = error


def tune_in_worker(spec: StudySpec, jobs: int, stop: StopFlag, post: Callable[[Message], object]) -> None:
    """The body of the Tune screen's thread worker."""
    try:
        end = run_study(spec, jobs, stop, lambda rows: post(StudyLoaded(rows)),
                        lambda update: post(TrialUpdated(dict(update))))
        post(StudyEnded(end.stopped, end.best, end.report, end.error))
    except UserError as exc:
        post(StudyEnded(stop.is_set(), None, "", str(exc)))
    except Exception as exc:  # shown on the screen; the app goes on
        post(StudyEnded(stop.is_set(), None, "", f"{exc.__class__.__name__}: {exc}"))

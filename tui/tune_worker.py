"""The Tune screen's study, run in a thread worker: the same workers as
`freq-tui tune` (lstm_core.tune), each trial's updates posted as a small
message. After a hang-up the study goes on to its end and writes its report
(the app's process ends when this thread does)."""
from __future__ import annotations

from typing import Callable, Optional

from textual.message import Message

from lstm_core.errors import UserError
from lstm_core.trainer import StopFlag


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


def tune_in_worker(spec, jobs: int, stop: StopFlag, post: Callable[[Message], object]) -> None:
    """The body of the Tune screen's thread worker."""
    from lstm_core.tune.command import prepare, run_workers
    from lstm_core.tune.report import ranked, write_report
    from lstm_core.tune.view import trial_rows

    try:
        study = prepare(spec)
        post(StudyLoaded(trial_rows(study)))
        _, wall_s, reports = run_workers(spec, jobs, stop, lambda update: post(TrialUpdated(dict(update))))
        paths = write_report(study, spec, wall_s=wall_s)
        top = ranked(study)
        failed = [r.message for r in reports if r.status == "failed"]
        post(StudyEnded(stop.is_set(), (top[0].number, top[0].value) if top else None, str(paths[-2]),
                        failed[0] if failed else ""))
    except UserError as exc:
        post(StudyEnded(stop.is_set(), None, "", str(exc)))
    except Exception as exc:  # shown on the screen; the app goes on
        post(StudyEnded(stop.is_set(), None, "", f"{exc.__class__.__name__}: {exc}"))

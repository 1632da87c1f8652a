"""Following a run that another process (a headless `freq-tui train`)
writes, from its files alone: the epochs new since the last look, and once
status.json says the run ended (or its writer is gone: STALE), the outcome
its writer would have handed back. No threads and no torch here; the app
looks once a second on a thread of its own."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from .errors import UserError
from .events import EpochRecord, RunEnded, best_record
from .outcome import RunOutcome
from .rundir import RunDir
from .status import RunStatus


class RunWatcher:
    def __init__(self, run: RunDir | str | Path) -> None:
        self.run = run if isinstance(run, RunDir) else RunDir.open(run)
        self.history: list[EpochRecord] = []  # the epochs handed out so far

    def poll(self) -> tuple[list[EpochRecord], Optional[RunOutcome]]:
        """One look at the files: the epochs new since the last look, and the
        run's outcome once it is no longer running (else None)."""
        state = self.run.state()  # first: once it says ended, metrics.jsonl is whole
        records = self.run.read_metrics()[len(self.history):]
        self.history += records
        return records, None if state == RunStatus.RUNNING else self.outcome(state)

    def outcome(self, state: str) -> RunOutcome:
        """The run's end as its writer would report it, from status.json and
        results.json (None where it is missing or damaged: the Evaluate
        screen says which when it is opened)."""
        message = (f"process gone; {self.run.resume_hint()}" if state == RunStatus.STALE
                   else self.run.read_status().get("message", ""))
        try:
            results = self.run.read_results()
        except UserError:
            results = None
        best = best_record(self.history)
        training = RunEnded(state, message, self.history[-1].epoch if self.history else 0,
                            best.epoch if best else 0, best.val_loss if best else math.inf,
                            sum(r.epoch_time for r in self.history), tuple(self.history))
        return RunOutcome(self.run, training, results)

"""metrics.jsonl as one more subscriber to a run's events: each EpochEnd
becomes a line (EpochRecord.to_json), the file rewritten atomically, so a
kill never leaves half a line. The trainer writes only its checkpoints."""
from __future__ import annotations

from .events import EpochEnd, TrainerEvent
from .rundir import RunDir


class MetricsLog:
    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir

    def __call__(self, event: TrainerEvent) -> None:
        if isinstance(event, EpochEnd):
            self.run_dir.append_metrics(event.record)

"""What a run hands back when it is over (start_run, resume_run, a followed
run's end): no torch here, so a front end can hold one without loading it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .events import RunEnded
from .results import Results
from .rundir import RunDir

if TYPE_CHECKING:
    from .evaluation import Evaluation


@dataclass(frozen=True)
class RunEvaluation:
    """A run's model evaluated (at the end of its training, or its best.pt
    again), and the results.json that follows."""
    run_dir: RunDir
    evaluation: "Evaluation"
    results: Results  # the run's training facts with these scores


@dataclass
class RunOutcome:
    run_dir: RunDir
    training: RunEnded
    results: Optional[Results]  # None when no epoch finished (or evaluate=False)
    report_paths: list[Path] = field(default_factory=list)  # report.md, report.html, the figures
    report_error: Optional[str] = None  # why the report could not be written
    evaluation: Optional["Evaluation"] = None  # what results and report were made from, for whoever shows it

    @property
    def evaluated(self) -> Optional[RunEvaluation]:
        """The evaluation this run ended with, as `evaluate_run` would give it
        (None where the run was not evaluated)."""
        if self.evaluation is None or self.results is None:
            return None
        return RunEvaluation(self.run_dir, self.evaluation, self.results)

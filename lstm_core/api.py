"""The one way in to the core for every front end (the app, the headless
commands' console script, the tune command): start, resume and stop a run,
follow a run another process writes, preview, evaluate, export, list and
compare runs, and the value types they hand back.

Importing this module loads no torch: what needs it (training, evaluation,
the report, audio, the checkpoint preview) is imported when it is called, so
a front end opens quickly and `import tui.app` stays light.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from . import tables
from .compare import ComparedRun, differing_settings, metrics_rows
from .config import RunConfig
from .console_view import epoch_line
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ConfigError, UserError
from .events import (BatchProgress, EpochEnd, EpochRecord, EventCallback, Preview, RunEnded, RunStarted,
                     TrainerEvent)
from .follow import RunWatcher
from .metrics import amplitude_spectrum
from .outcome import RunEvaluation, RunOutcome
from .results import Results
from .rundir import RunDir
from .runlist import RunSummary, time_text
from .runlist import list_runs as _list_runs
from .status import RunStatus, is_complete, is_ended, state_text
from .stopping import StopFlag, detach_from_terminal, stop_signals
from .sysmon import GPU_FIELDS, NO_NVML, NO_PSUTIL, SystemSample, SystemSampler, cuda_index

if TYPE_CHECKING:
    from .audio import Extraction

__all__ = [
    "study_spec", "run_study", "StudySpec", "StudyEnd", "OBJECTIVES", "params_text",
    "start_run", "new_run_dir", "resume_run", "open_run", "check_environment", "follow_run", "preview",
    "list_runs", "evaluate_run", "export_report", "extract_audio", "compare_runs", "main",
    "StopFlag", "stop_signals", "detach_from_terminal", "RunOutcome", "RunEvaluation", "RunDir", "RunWatcher",
    "RunSummary", "ComparedRun", "differing_settings", "metrics_rows", "tables", "epoch_line", "amplitude_spectrum",
    "state_text", "time_text", "is_ended", "is_complete", "RunConfig", "RunStarted", "BatchProgress", "EpochEnd", "EpochRecord", "Preview", "RunEnded",
    "TrainerEvent", "EventCallback", "Results", "UserError", "ConfigError", "RunStatus",
    "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED",
    "SystemSampler", "SystemSample", "GPU_FIELDS", "NO_NVML", "NO_PSUTIL", "cuda_index",  # the machine (sysmon.py)
]


# ---- runs ---------------------------------------------------------------------
def check_environment(config: RunConfig) -> None:
    """UserError unless this machine can train `config` (device, precision,
    memory); nothing is written."""
    from .device import check_environment as check

    check(config)


def new_run_dir(config: RunConfig, runs_root: str | Path = "runs") -> RunDir:
    """A new run directory for `config`, after `check_environment`: a run this
    machine cannot do creates nothing. It holds its config.toml and its lock;
    pass it to `start_run(run_dir=...)`."""
    check_environment(config)
    return RunDir.create(config, runs_root)


def start_run(config: RunConfig, *, runs_root: str | Path = "runs", on_event: Optional[EventCallback] = None,
              stop: Optional[StopFlag] = None, evaluate: bool = True,
              run_dir: Optional[RunDir] = None) -> RunOutcome:
    """Train `config` to its end (or to `stop`), telling `on_event` each
    RunStarted, BatchProgress, EpochEnd(record, preview) and RunEnded. With
    `evaluate` the best weights are evaluated on the test set and
    results.json and the report are written (the outcome carries the
    Evaluation); `evaluate=False` trains only: no test-set evaluation, no
    report, and status.json ends with the training's status."""
    from .runner import run_training

    return run_training(config, runs_root=runs_root, on_event=on_event, stop=stop, run_dir=run_dir,
                        evaluate=evaluate)


def resume_run(path: str | Path, *, on_event: Optional[EventCallback] = None,
               stop: Optional[StopFlag] = None) -> RunOutcome:
    """Continue an interrupted or stale run in its own directory from the end
    of its last whole epoch, then evaluate it as `start_run` does."""
    from .runner import resume_training

    return resume_training(path, on_event=on_event, stop=stop)


def open_run(path: str | Path) -> RunDir:
    """An existing run directory (UserError, one line, for anything else)."""
    return RunDir.open(path)


def follow_run(path: RunDir | str | Path) -> RunWatcher:
    """A run another process writes, read from its files: `poll()` gives the
    epochs new since the last look and, once it has ended, its RunOutcome."""
    return RunWatcher(path)


def preview(path: RunDir | str | Path) -> Optional[Preview]:
    """Model output vs target on the validation window the trainer previews,
    from the run's last.pt; None while there is none (or it cannot be read)."""
    from .preview import checkpoint_preview

    return checkpoint_preview(path.path if isinstance(path, RunDir) else path)


def list_runs(root: str | Path) -> list[RunSummary]:
    """The run directories under `root`, newest first."""
    return _list_runs(Path(root))


# ---- evaluation -----------------------------------------------------------------
def evaluate_run(path: RunDir | str | Path) -> RunEvaluation:
    """The run's best.pt evaluated again on the run's data."""
    from .evaluation import evaluate_run as evaluate

    return evaluate(path)


def export_report(evaluated: RunEvaluation | RunDir | str | Path) -> list[Path]:
    """report.md, report.html, the PNG figures and results.json of a run,
    written into its directory under the run's lock (its best.pt evaluated
    again there, so the report says what the status beside it says); their
    paths. UserError, one line, while another process trains or reports it."""
    from .report import report_run

    run = evaluated.run_dir if isinstance(evaluated, RunEvaluation) else evaluated
    return report_run(run, "export")[1]


def extract_audio(audio: str | Path, run: str | Path, out: Optional[str | Path] = None) -> "Extraction":
    """A run's model (its best.pt) on a WAV file; the components are written
    to `out` (default: <run>/<audio stem>-components)."""
    from .audio import default_out_dir, extract_audio as extract, resolve_checkpoint

    run = Path(run)
    return extract(audio, resolve_checkpoint(run), out if out is not None else run / default_out_dir(audio))


def compare_runs(paths: Sequence[str | Path]) -> list[ComparedRun]:
    """Two or more finished runs of the same frequencies, read side by side
    (`differing_settings` and `metrics_rows` are their tables)."""
    from .compare import load_runs

    return load_runs(paths)


# ---- the console script ---------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None, *, add_commands: Optional[Callable[[Any], None]] = None,
         process: Optional[bool] = None) -> int:
    """The headless commands (`train`, `sweep`, `report`, ...), with the
    subcommands `add_commands(subparsers)` adds; returns the exit status."""
    from . import cli

    return cli.main(argv, parser=cli.build_parser(add_commands), process=process)


# ---- studies (freq-tui tune, the Tune screen) ----------------------------------
from .tune.command import StudyEnd, study_spec  # noqa: E402  (no optuna, no torch until a study runs)
from .tune.objective import OBJECTIVES  # noqa: E402
from .tune.study import StudySpec  # noqa: E402
from .tune.view import params_text  # noqa: E402


def run_study(spec: StudySpec, jobs: int, stop: StopFlag, on_loaded: Callable[[dict], None],
              on_update: Callable[[dict], None]) -> StudyEnd:
    """Run the study `spec` (study_spec) J trials at once until it holds its
    trials or `stop`, then write best.toml, tune.md and tune.html. on_loaded
    gets the trials it already held, on_update each trial's changes (dicts
    with trial, state, params, value, train_time_s, epoch...)."""
    from .tune.command import run_to_end

    return run_to_end(spec, jobs, stop, on_loaded, on_update)


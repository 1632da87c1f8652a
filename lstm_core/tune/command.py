"""`freq-tui tune`: the flags, the checks made before anything is created,
the live table while the workers run, and the report and confirmation at
the end."""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..config import FIELDS, RUN_PLACE, RunConfig, build_config, load_preset, load_toml
from ..errors import UserError, echo
from ..files import ensure_folder
from ..formatting import mse
from .objective import OBJECTIVES
from .space import Space, default_space, parse_space
from .study import DEFAULT_STUDY, StudySpec

TUNE_EXTRA_LINE = "optuna is missing: pip install 'freq-lstm[tune]'"


def add_tune_parser(sub) -> None:
    from ..cli import _int_at_least, _jobs, _positive_int, add_config_flags

    tune = sub.add_parser("tune", help="search settings with Optuna over seed sets; best.toml, tune.md, tune.html")
    add_config_flags(tune)
    group = tune.add_argument_group("study")
    group.add_argument("--space", metavar="FILE", help="TOML file with a [space] table (default: the [space] of "
                                                       "--config, else the ranges config.py declares)")
    group.add_argument("--trials", type=_positive_int, default=20, metavar="N",
                       help="trials the study should hold, failed ones not counted (default: 20)")
    group.add_argument("--out", default="tune", metavar="DIR",
                       help="study directory: journal, trial runs, best.toml, tune.md (default: tune)")
    group.add_argument("--seed-sets", type=_positive_int, default=3, metavar="K",
                       help="(model seed, validation seed) pairs each trial trains on (default: 3)")
    group.add_argument("--objective", choices=OBJECTIVES, default="median",
                       help="median or worst validation MSE over the seed sets, or time: the median time to "
                            "the target stop, reaching it on every seed set (default: median)")
    group.add_argument("--trial-budget-s", type=float, default=None, metavar="S",
                       help="stop a trial after S seconds and record it pruned")
    group.add_argument("--jobs", type=_jobs, default=1, metavar="J", help="trials at once, in J worker processes")
    group.add_argument("--storage", default="", metavar="URL",
                       help="postgresql://, mysql:// or sqlite:/// URL shared by several boxes (default: a "
                            "journal file in --out)")
    group.add_argument("--study", default=DEFAULT_STUDY, metavar="NAME", help=f"study name (default: {DEFAULT_STUDY})")
    group.add_argument("--confirm-seeds", type=_int_at_least(0), default=5, metavar="N",
                       help="train the best and the base config on N fresh seed sets with test evaluation "
                            "(0: none; default: 5)")
    group.add_argument("--pruner", choices=("median", "none"), default="median",
                       help="median: stop a trial whose validation MSE is worse than the median of earlier "
                            "trials at the same epoch (default)")
    group.add_argument("--heartbeat-s", type=float, default=10.0, metavar="S",
                       help="a running trial beats every S seconds; one silent for 3 beats is failed (default: 10)")
    tune.set_defaults(handler=cmd_tune)


def study_settings(args: argparse.Namespace) -> tuple[dict[str, Any], Space]:
    """The base settings and the space, checked; nothing is created."""
    preset = load_preset(args.preset) if args.preset else {}
    file_values = load_toml(args.config, tables=("space",)) if args.config else {}
    config_space = file_values.pop("space", None)
    flags = {name: getattr(args, name) for name in FIELDS if getattr(args, name, None) is not None}
    for name in RUN_PLACE:
        if name in flags:
            raise UserError("--" + name.replace("_", "-"), "a study's runs go in --out (trial-NNNN-set-K, confirm-NNNN-...)")
    base = build_config(preset, file_values, flags)
    if config_space is not None and not args.space:
        space = parse_space(config_space, f"{args.config}: [space]")
    else:
        space = resolve_space(base, args.space)
    check_options(base, args.objective, args.trial_budget_s, args.heartbeat_s)
    return base.to_dict(), space


def resolve_space(base: RunConfig, path: Optional[str]) -> Space:
    """The [space] of a --space file, else the space the fields declare."""
    if not path:
        return default_space(base)
    raw = load_toml(path, tables=("space",))
    extra = sorted(set(raw) - {"space"})
    if extra:
        raise UserError(path, f"holds settings besides [space] ({', '.join(extra)}): put them in --config")
    if "space" not in raw:
        raise UserError(path, "has no [space] table")
    return parse_space(raw["space"], f"{path}: [space]")


def check_options(base: RunConfig, objective: str, trial_budget_s: Optional[float], heartbeat_s: float) -> None:
    if objective == "time" and base.target_mse <= 0:
        raise UserError("--objective", "time needs a target stop: set target_mse (e.g. --target-mse 0.08)")
    for flag, value in (("--trial-budget-s", trial_budget_s), ("--heartbeat-s", heartbeat_s)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserError(flag, f"must be a number of seconds > 0 (got {echo(value)})")


def make_spec(args: argparse.Namespace, base: dict[str, Any], space: Space) -> StudySpec:
    return StudySpec(out=args.out, storage=args.storage, study_name=args.study, base=base, space=space,
                     objective=args.objective, seed_sets=args.seed_sets, trials=args.trials,
                     trial_budget_s=args.trial_budget_s, heartbeat_s=args.heartbeat_s, pruner=args.pruner)


def prepare(spec: StudySpec):
    """Storage reached, study directory made, study opened or created."""
    from .storage import check_url, open_storage
    from .study import open_study

    try:
        import optuna  # noqa: F401
    except ModuleNotFoundError:
        raise UserError("tune", TUNE_EXTRA_LINE) from None
    out = spec.out_path
    if spec.storage:
        check_url(spec.storage)
        open_storage(spec.storage, out)  # unreachable: one line, and no study directory
    if out.exists() and not out.is_dir():
        raise UserError(str(out), "is a file, not a study directory")
    ensure_folder(out, "the study directory")  # never filled through a link
    return open_study(spec, create=True)


def cmd_tune(args: argparse.Namespace) -> int:
    from ..errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
    from ..stopping import StopFlag, restore_signals, install_stop_signals

    base, space = study_settings(args)
    if args.storage:
        from .storage import check_url

        check_url(args.storage)
    spec = make_spec(args, base, space)
    study = prepare(spec)
    stop = StopFlag()
    previous = install_stop_signals(stop.request, base["on_hangup"])
    try:
        mine, wall_s, reports = run_study(spec, study, args.jobs, stop)
        from rich.console import Console

        console = Console()
        for report in reports:
            if report.status == "failed":
                console.print(f"[red]worker {report.index}: failed[/] {report.message}", highlight=False)
        return finish(spec, study, mine, wall_s, args, stop, console, EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED)
    finally:
        restore_signals(previous)


def run_study(spec: StudySpec, study, jobs: int, stop) -> tuple[set[int], float, list]:
    """The workers, with the live table, until the study is full or a stop."""
    from rich.console import Console

    from .view import TrialsTable, trial_rows

    title = f"study {spec.study_name}: {spec.trials} trials, {spec.seed_sets} seed sets each, {jobs} at once"
    with TrialsTable(Console(), title, trial_rows(study)) as table:
        return run_workers(spec, jobs, stop, table.update)


def run_workers(spec: StudySpec, jobs: int, stop, on_update: Callable[[dict], None]) -> tuple[set[int], float, list]:
    """J workers (in this process when J = 1) until the study is full or a
    stop; the trials this process ran, its wall time and the workers'
    reports. on_update gets each trial's updates (view.TrialsTable.update)."""
    from ..parallel import JobReport, run_parallel
    from .study import parallel_worker, study_worker

    mine: set[int] = set()
    started = time.monotonic()

    def update(change) -> None:
        if not isinstance(change, dict):
            return  # a worker's own state (parallel.py's RunStatus.RUNNING)
        if change.get("state") == "running" and "trial" in change:
            mine.add(change["trial"])
        on_update(change)

    if jobs == 1:
        status, message, _ = study_worker(spec, update, stop)
        reports = [JobReport(0, "worker 0", status, message)]
    else:
        reports = run_parallel(parallel_worker, [(spec, i) for i in range(jobs)], [f"worker {i}" for i in range(jobs)],
                               jobs, stop.is_set, lambda index, change: update(change))
    return mine, time.monotonic() - started, reports


def finish(spec: StudySpec, study, mine: set[int], wall_s: float, args, stop, console, ok: int, failed: int,
           interrupted: int) -> int:
    from .report import best_settings, ranked, write_report

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    train_s = sum(trials[n].user_attrs.get("train_time_s", 0.0) for n in mine if n in trials)
    if mine:
        ideal = train_s / args.jobs
        console.print(f"{len(mine)} trials in this process: {wall_s:.1f} s wall, {train_s:.1f} s of training "
                      f"({ideal:.1f} s per worker at {args.jobs} at once; wall time "
                      f"{100 * (wall_s / ideal - 1) if ideal > 0 else math.nan:+.0f}%)", highlight=False)
    top = ranked(study)
    confirm = None
    if top and args.confirm_seeds and not stop.is_set():
        from .confirm import run_confirm

        console.print(f"Confirming trial {top[0].number} and the base config on {args.confirm_seeds} fresh seed sets")
        confirm = run_confirm(spec.out_path, top[0].number,
                              {"best": best_settings(spec.base, top[0]), "base": spec.base}, args.confirm_seeds,
                              args.jobs, stop, on_line=lambda line: console.print(line, highlight=False))
    paths = write_report(study, spec, confirm, wall_s if mine else None)
    console.print(f"Study directory: [bold]{spec.out_path}[/] (" + ", ".join(p.name for p in paths) + ")", soft_wrap=True)
    if confirm:
        for label, c in confirm.items():
            if c.n:
                console.print(f"{label}: test MSE median {mse(c.test_mse_median)}, worst {mse(c.test_mse_worst)} "
                              f"on {c.n} fresh seed sets; median {c.epochs_median:g} epochs, "
                              f"{c.stop_median_s:.1f} s to its stop",
                              highlight=False)
    if stop.is_set():
        console.print("[yellow]Stopped.[/] Continue the study with the same command.")
        return interrupted
    if not top:
        console.print("[red]No trial completed[/]" + (" with the target reached on every seed set"
                                                     if spec.objective == "time" else ""))
        return failed
    return ok


@dataclass(frozen=True)
class StudyEnd:
    """How a study run by `run_to_end` ended."""

    stopped: bool
    best: Optional[tuple[int, float]]  # (trial number, value) of the best trial
    report: str  # tune.md's path
    error: str = ""  # a worker that failed: why


def study_spec(settings: dict[str, Any], *, out: str, trials: int, seed_sets: int, objective: str,
               space_file: Optional[str] = None, storage: str = "", study_name: str = DEFAULT_STUDY,
               jobs: int = 1) -> StudySpec:
    """The study `freq-tui tune` would run for these raw settings (a form's
    values), with `jobs` workers. Raises UserError naming what is wrong;
    nothing is created."""
    from ..parallel import check_jobs

    check_jobs(jobs)
    if trials < 1 or seed_sets < 1:
        raise UserError("trials" if trials < 1 else "seed sets", "must be >= 1")
    if objective not in OBJECTIVES:
        raise UserError("objective", f"must be one of {', '.join(OBJECTIVES)} (got {echo(objective)})")
    base = build_config(settings)
    space = resolve_space(base, space_file)
    check_options(base, objective, None, 10.0)
    return StudySpec(out=out, storage=storage, study_name=study_name, base=base.to_dict(), space=space,
                     objective=objective, seed_sets=seed_sets, trials=trials)


def run_to_end(spec: StudySpec, jobs: int, stop, on_loaded: Callable[[dict], None],
               on_update: Callable[[dict], None]) -> StudyEnd:
    """Open (or create) the study, run J workers until it is full or `stop`,
    write its report. on_loaded gets the trials it already held (trial rows,
    view.trial_rows), on_update each trial's updates. Raises UserError."""
    from .report import ranked, write_report
    from .view import trial_rows

    study = prepare(spec)
    on_loaded(trial_rows(study))
    _, wall_s, reports = run_workers(spec, jobs, stop, on_update)
    write_report(study, spec, wall_s=wall_s)
    top = ranked(study)
    failed = [r.message for r in reports if r.status == "failed"]
    return StudyEnd(stop.is_set(), (top[0].number, top[0].value) if top else None,
                    str(spec.out_path / "tune.md"), failed[0] if failed else "")

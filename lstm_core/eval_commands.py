"""The evaluation subcommands: `freq-tui report RUN_DIR`, `freq-tui evaluate
CHECKPOINT` and `freq-tui train --repeats N`. Argument parsing lives in
cli.py; heavy imports (torch, matplotlib) happen inside the commands so that
`freq-tui --help` stays quick."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .console_streams import note_into
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UserError
from .rundir import claim_new_path, timestamped
from .status import RunStatus, state_text


def print_report_paths(console, outcome) -> None:
    if outcome.report_paths:
        console.print(f"Report: [bold]{outcome.report_paths[1]}[/] (and report.md, the figures)", soft_wrap=True)
    elif outcome.report_error:
        console.print(f"[yellow]{outcome.report_error}[/]")


def cmd_report(args: argparse.Namespace) -> int:
    """Evaluate the run's best.pt again and rewrite results.json and the
    report. Everything is computed before the first file is written."""
    from rich.console import Console

    from .console_view import print_results
    from .report import report_run

    run, paths = report_run(args.run_dir)
    run_dir = run.run_dir
    console = Console()
    print_results(console, run.results)
    console.print(f"Report: [bold]{paths[1]}[/] (and report.md, the figures, results.json)", soft_wrap=True)
    state = run_dir.state()
    if state == RunStatus.STALE:
        console.print(f"[yellow]Run status: {state_text(state)}[/]; {run_dir.resume_hint()}", highlight=False, soft_wrap=True)
    else:
        console.print(f"Run status: {state}", highlight=False)
    note_into(run_dir.path)
    return EXIT_OK


def _data_config(trained, args: argparse.Namespace):
    """The checkpoint's config with the data flags the user gave applied."""
    from .config import build_config
    from .evaluation import DATA_FIELDS

    base = trained.to_dict()
    base["run_dir"] = ""
    flags = {name: getattr(args, name) for name in DATA_FIELDS if getattr(args, name, None) is not None}
    flags["device"] = args.device or "auto"  # the device this evaluation runs on, checked like any other
    if base["noise"] != "custom" or "noise" in flags:
        # the preset's phase range follows the (possibly new) noise setting
        base.pop("phase_low")
        base.pop("phase_high")
    return build_config(base, flags)


def _new_output_dir(path: Path) -> None:
    if path.is_symlink():
        from .files import check_real_folder

        check_real_folder(path, "output directory")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(str(path), "output directory already exists and is not empty (choose a new --out)")


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None: it exists)."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _remove_output(path: Path, created: Path | None) -> None:
    """Take back what an evaluation wrote: the folders it made, else (an
    empty folder the user gave) only its contents."""
    import shutil

    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _default_output_dir(runs_root: str | Path) -> Path:
    return claim_new_path(Path(runs_root), timestamped("evaluate"), lambda path: path)


def _training_facts(checkpoint: Path, payload: dict[str, Any]):
    """What is known about how the model was trained: from its run
    directory's results.json if it sits in one, else from the checkpoint."""
    import dataclasses

    from .checkpoint import library_versions
    from .results import TrainingFacts
    from .rundir import RunDir

    saved = RunDir(checkpoint.parent).read_results()
    state = payload.get("training_state") or {}
    facts = saved.training if saved else TrainingFacts(epochs_run=payload.get("epoch"),
                                                       best_epoch=state.get("best_epoch"),
                                                       best_val_loss=state.get("best_val_loss"))
    return dataclasses.replace(
        facts, status=RunStatus.EVALUATED,
        stop_reason=f"evaluation of {checkpoint} (saved after epoch {payload.get('epoch')})",
        source_checkpoint=str(checkpoint), versions=library_versions())


def _checkpoint_history(payload: dict[str, Any]) -> list:
    """The epochs a checkpoint's training state keeps (a checkpoint outside
    its run directory), up to the first that is not an epoch record."""
    from .events import EpochRecord

    history = []
    for record in (payload.get("training_state") or {}).get("history", []):
        try:
            history.append(EpochRecord.from_json(record))
        except ValueError:
            break
    return history


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint on the data the flags describe and write a new
    output directory (never an existing, non-empty one): config.toml, a copy
    of the checkpoint as best.pt, metrics.jsonl, results.json, the report."""
    from rich.console import Console

    from .checkpoint import config_of, load_checkpoint
    from .console_view import print_results
    from .device import check_environment
    from .evaluation import evaluate_checkpoint
    from .files import MAX_CHECKPOINT_BYTES, atomic_write_bytes, ensure_folder, read_regular
    from .report import export_report
    from .results import Results
    from .rundir import RunDir

    checkpoint = Path(args.checkpoint)
    payload = load_checkpoint(checkpoint)
    trained = config_of(payload, checkpoint)
    data_config = _data_config(trained, args)
    device = check_environment(data_config, train=False)  # present, and the evaluation fits in memory
    out = Path(args.out) if args.out else _default_output_dir(args.runs_root)
    _new_output_dir(out)

    training = _training_facts(checkpoint, payload)
    evaluation = evaluate_checkpoint(checkpoint, data_config, device)  # nothing written yet
    config = evaluation.config
    _new_output_dir(out)
    history = RunDir(checkpoint.parent).read_metrics() or _checkpoint_history(payload)
    results = Results(training, evaluation.scores)
    created = _first_missing(out)
    ensure_folder(out, "output directory", mode=0o700)  # private, as every run directory
    run_dir = RunDir(out)
    try:
        run_dir.acquire("evaluation")  # one writer at a time, as in a run
        run_dir.write_config(config)
        atomic_write_bytes(run_dir.best_checkpoint, read_regular(checkpoint, "checkpoint file", MAX_CHECKPOINT_BYTES))
        run_dir.rewrite_metrics(history)
        paths = export_report(run_dir, evaluation, training, history, title=f"freq-lstm evaluation of {checkpoint}")
        run_dir.write_results(results)
        run_dir.write_status(RunStatus.EVALUATED, message=training.stop_reason, test_mse=results.scores.test_mse,
                             verdict=results.scores.verdict.code)
    except BaseException:  # Ctrl+C, a full disk: no half-written --out is left to block a re-run
        run_dir.release()
        _remove_output(out, created)
        raise
    run_dir.release()
    console = Console()
    console.print(f"Evaluated [bold]{checkpoint}[/] on noise {config.noise} "
                  f"(phase {config.phase_range[0]:g}..{config.phase_range[1]:g} rad, amplitude "
                  f"{config.amplitude_low:g}..{config.amplitude_high:g}, test seed {config.test_seed})")
    print_results(console, results)
    console.print(f"Output directory: [bold]{out}[/]  report: {paths[1]}", soft_wrap=True)
    note_into(out)
    return EXIT_OK


def _seed_result(results) -> str:
    from .formatting import mse

    scores = results.scores
    return (f"test MSE {mse(scores.test_mse)} (worst frequency {mse(scores.worst_frequency_mse)}), verdict "
            f"{scores.verdict.code}, {results.training.train_time_s:.0f} s")


def train_repeats(config, repeats: int, jobs: int, runs_root: str, stop) -> int:
    from rich.console import Console
    from rich.table import Table

    from .console_view import TrainingView
    from .parallel import JobReport
    from .parallel_view import RunsTable
    from .formatting import correlation, mse
    from .repeats import SHOW, SUMMARY_MD, SeedOutcome, run_repeats
    from .runner import run_training

    console = Console()

    def run_one(seed_config):
        console.rule(f"seed {seed_config.seed}")
        with TrainingView(console) as view:
            outcome = run_training(seed_config, runs_root=runs_root, on_event=view.handle, stop=stop)
        if outcome.results:
            console.print(f"seed {seed_config.seed}: {_seed_result(outcome.results)}  ({outcome.run_dir.path})", soft_wrap=True)
        return JobReport(0, "", outcome.training.status, outcome.training.message,
                         SeedOutcome(outcome.results, str(outcome.run_dir.path)))

    if jobs > 1:
        labels = [f"seed {config.seed + i}" for i in range(repeats)]
        with RunsTable(labels, console, f"{repeats} seeds, {jobs} at once") as view:
            def done(report):
                results = report.value.results if report.value else None
                view.done(report, results and results.scores.test_mse, _seed_result(results) if results else "")

            parent, summary, reports = run_repeats(config, repeats, runs_root, jobs, run_one, stop.is_set,
                                                   view.update, done)
    else:
        parent, summary, reports = run_repeats(config, repeats, runs_root, jobs, run_one, stop.is_set)
    console.print(f"Parent directory: [bold]{parent}[/]", soft_wrap=True)
    if summary:
        table = Table(title=f"Mean ± std over {len(summary.seeds)} seeds ({', '.join(map(str, summary.seeds))}), "
                            "and the median")
        for column in ("Metric", "Mean", "Median", "Std"):
            table.add_column(column, justify="left" if column == "Metric" else "right")
        for label, stats in summary.metrics.items():
            show = SHOW[label]
            table.add_row(label, show(stats.mean), show(stats.median), show(stats.std))
        for row in summary.per_frequency:
            for name, stats, show in (("test MSE", row.test_mse, mse), ("correlation", row.correlation, correlation)):
                table.add_row(f"{row.hz:g} Hz {name}", show(stats.mean), show(stats.median), show(stats.std))
        console.print(table)
        worst = summary.worst_seed
        console.print(f"Worst seed: {worst.seed} (test MSE {mse(worst.test_mse)}, worst frequency "
                      f"{mse(worst.worst_frequency_mse)})")
        console.print("Verdicts: " + ", ".join(f"{code} × {n}" for code, n in summary.verdicts.items()))
        console.print(f"Summary: {parent / SUMMARY_MD}")
    for report in reports:
        if not (report.value and report.value.results):
            console.print(f"[yellow]{report.label}: {report.status}[/] ({report.message})", highlight=False)
    statuses = [r.status for r in reports]
    note_into(parent)
    if stop.is_set() or any(RunStatus(s).stopped for s in statuses):
        started = sum(s != RunStatus.NOT_STARTED for s in statuses)
        console.print(f"[yellow]Stopped: {started} of {repeats} runs started[/]")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(s in (RunStatus.DIVERGED, RunStatus.FAILED) for s in statuses) else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Runs side by side from their files; every run is read and every
    figure drawn before the first file is written."""
    from .compare import load_runs, metrics_rows, write_comparison

    runs = load_runs(args.runs)
    paths = write_comparison(runs, args.out)
    width = max(len(run.label) for run in runs)
    verdicts, test_mse = metrics_rows(runs)[:2]
    for run, verdict, mse in zip(runs, verdicts[1:], test_mse[1:]):
        print(f"{run.label:<{width}}  test MSE {mse}  {verdict}")
    print(f"Wrote {paths[0]}, {paths[1].name} and {len(paths) - 2} PNGs")
    return EXIT_OK

"""The headless commands of `freq-tui` (`train`, `sweep`, `report`, ...).
The console script itself is `tui.cli:main`, which adds the `app` command;
this module never imports the app. User mistakes print one line and exit 2."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .config import FIELDS, build_config, check_repeats, field_type, list_presets, load_preset, load_toml
from . import eval_commands
from .console_streams import guard_std_streams, note_into
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, SUBJECT_LIMIT, UserError, clip, echo
from .formatting import mse
from .status import RunStatus
from .stopping import StopFlag, stop_signals



class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_config_flags(parser: argparse.ArgumentParser, only_groups: Optional[Sequence[str]] = None) -> None:
    """One flag per config field, generated from the field metadata. Every
    default is None so that only flags the user gave override the file.
    `only_groups` limits the flags to some groups (and drops --preset/--config)."""
    if only_groups is None:
        parser.add_argument("--preset", metavar="NAME", help=f"named configuration ({', '.join(list_presets())})")
        parser.add_argument("--config", metavar="FILE", help="TOML file with the same field names as these flags")
    groups = {}
    for name, spec in FIELDS.items():
        group_name = spec.metadata["group"]
        if only_groups is not None and group_name not in only_groups:
            continue
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(group_name)
        flag = "--" + name.replace("_", "-")
        kind = field_type(name)
        if kind is bool:
            groups[group_name].add_argument(flag, dest=name, default=None, action=argparse.BooleanOptionalAction,
                                            help=spec.metadata["help"])
        else:
            choices = spec.metadata.get("choices")
            metavar = "{" + ",".join(choices) + "}" if choices else name.upper()
            groups[group_name].add_argument(flag, dest=name, default=None, metavar=metavar, help=spec.metadata["help"])


def config_from_args(args: argparse.Namespace):
    """defaults < --preset < --config FILE < individual flags."""
    preset_values = load_preset(args.preset) if getattr(args, "preset", None) else {}
    file_values = load_toml(args.config) if getattr(args, "config", None) else {}
    flag_values = {name: getattr(args, name) for name in FIELDS if getattr(args, name, None) is not None}
    return build_config(preset_values, file_values, flag_values)


def build_parser(add_commands: Optional[Callable[[Any], None]] = None) -> argparse.ArgumentParser:
    """The parser of every headless command; `add_commands(subparsers)` adds
    more (the app adds `app`)."""
    parser = _Parser(prog="freq-tui", description="Train LSTMs to extract pure sinusoids from a noisy mixed signal.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    train = sub.add_parser("train", help="train a model headless and evaluate it")
    add_config_flags(train)
    train.add_argument("--runs-root", default="runs", help="where default run directories go (default: runs)")
    train.add_argument("--repeats", type=_positive_int, default=1, metavar="N",
                       help="train N seeds (seed, seed+1, ...) and report mean, median, std and the worst seed")
    train.add_argument("--jobs", type=_jobs, default=1, metavar="J",
                       help="with --repeats: train J seeds at once in J worker processes (default: 1)")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run from its last.pt, with the config saved in RUN_DIR")
    train.set_defaults(handler=cmd_train)
    sweep = sub.add_parser("sweep", help="train both models over phase-noise ranges 0..2pi; table and PNG")
    sweep.add_argument("--out", default="sweep", help="folder for sweep.csv, sweep.md and sweep.png (default: sweep)")
    sweep.add_argument("--fractions", default=None, metavar="LIST",
                       help="phase ranges as fractions of 2pi, e.g. 0,0.01,0.1,0.25,0.5,0.75,1 (the default)")
    sweep.add_argument("--stateful-preset", default="informative-stateful", metavar="NAME",
                       help="settings for the stateful model (default: informative-stateful)")
    sweep.add_argument("--sequence-preset", default="informative-sequence", metavar="NAME",
                       help="settings for the sequence model (default: informative-sequence)")
    sweep.add_argument("--epochs", default=None, metavar="N", help="override the presets' epochs (quicker sweeps)")
    sweep.add_argument("--seed", default=None, metavar="N", help="override the training seed")
    sweep.add_argument("--jobs", type=_jobs, default=1, metavar="J",
                       help="train J points at once in J worker processes (default: 1)")
    sweep.set_defaults(handler=cmd_sweep)

    extract = sub.add_parser("extract", help="run a trained model on a WAV file and write what it extracts")
    extract.add_argument("audio", metavar="AUDIO.wav", help="8/16/24/32-bit PCM or 32/64-bit float WAV, any rate, mono or multi-channel")
    extract.add_argument("--checkpoint", required=True, metavar="CKPT", help="a checkpoint (best.pt) or a run directory")
    extract.add_argument("--out", metavar="DIR", help="output directory (default: <AUDIO stem>-components)")
    extract.add_argument("--no-normalise", dest="normalise", action="store_false",
                         help="feed the audio at its own level instead of the training signal's RMS")
    extract.set_defaults(handler=cmd_extract)
    report = sub.add_parser("report", help="evaluate a run's best.pt again and regenerate its report")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.set_defaults(handler=eval_commands.cmd_report)
    evaluate = sub.add_parser("evaluate", help="evaluate a saved model on data of your choosing")
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT", help="a best.pt or last.pt")
    add_config_flags(evaluate, only_groups=("data",))
    evaluate.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    evaluate.add_argument("--out", metavar="DIR", default=None,
                          help="new output directory (default: RUNS_ROOT/<timestamp>-evaluate)")
    evaluate.add_argument("--runs-root", default="runs", help="where the default output directory goes")
    evaluate.set_defaults(handler=eval_commands.cmd_evaluate)
    compare = sub.add_parser("compare", help="put runs side by side: compare.md, compare.html and PNGs")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="two or more run directories (same frequencies)")
    compare.add_argument("--out", default="compare", metavar="DIR", help="output folder (default: compare)")
    compare.set_defaults(handler=eval_commands.cmd_compare)
    runs = sub.add_parser("runs", help="list the run directories: status (stale: its process is gone), epochs, MSE")
    runs.add_argument("--runs-root", default="runs", help="where the run directories are (default: runs)")
    runs.add_argument("--json", action="store_true", help="one JSON list instead of the table")
    runs.set_defaults(handler=cmd_runs)
    from .tune.command import add_tune_parser  # no optuna import: quick

    add_tune_parser(sub)
    if add_commands is not None:
        add_commands(sub)
    return parser


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= low."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number (got {echo(text)})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low} (got {echo(value)})")
        return value
    return parse


_positive_int = _int_at_least(1)


def _jobs(text: str) -> int:
    from .parallel import check_jobs

    try:
        return check_jobs(_positive_int(text))
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


# Flags that make no sense with --resume: the run keeps its own config.
RESUME_KEEPS = ("preset", "config", *FIELDS)


def check_resume_args(args: argparse.Namespace) -> None:
    given = [name for name in RESUME_KEEPS if getattr(args, name, None) is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise UserError(flag, f"cannot be combined with --resume: a resumed run keeps the config in "
                              f"{args.resume}/config.toml")


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        from .rundir import RunDir  # no torch: quick

        check_resume_args(args)
        if args.repeats > 1 or args.jobs > 1:
            raise UserError("--repeats" if args.repeats > 1 else "--jobs", "cannot be combined with --resume")
        # a missing or broken run directory fails fast
        on_hangup, config = RunDir.open(args.resume).read_config().on_hangup, None
    else:
        config = config_from_args(args)  # before the heavy imports: bad input fails fast
        on_hangup = config.on_hangup
        check_repeats(config, args.repeats)
        if args.jobs > 1 and args.repeats == 1:
            raise UserError("--jobs", "runs repeats in parallel: give --repeats N (N >= 2) with it")

    from .api import resume_run, start_run
    from .console_view import TrainingView

    with stop_signals(StopFlag(), on_hangup) as stop:
        if args.repeats > 1:
            return eval_commands.train_repeats(config, args.repeats, args.jobs, args.runs_root, stop)
        with TrainingView() as view:
            if args.resume:
                outcome = resume_run(args.resume, on_event=view.handle, stop=stop)
            else:
                outcome = start_run(config, runs_root=args.runs_root, on_event=view.handle, stop=stop)
    try:
        return _print_outcome(view.console, outcome)
    finally:
        note_into(outcome.run_dir.path)  # a console write that failed, in the run's console.log


def _print_outcome(console, outcome) -> int:
    from .console_view import print_results, print_system

    console.print(f"Run directory: [bold]{outcome.run_dir.path}[/]", soft_wrap=True)
    if outcome.results is not None:
        print_results(console, outcome.results)
        print_system(console, outcome.results.training.system)
        eval_commands.print_report_paths(console, outcome)
    status = RunStatus(outcome.training.status)
    if status in (RunStatus.INTERRUPTED, RunStatus.CANCELLED):
        console.print(f"[yellow]Stopped:[/] {outcome.training.message}. "
                      f"Continue with: freq-tui train --resume {outcome.run_dir.path}")
        return EXIT_INTERRUPTED
    if status == RunStatus.DIVERGED:
        print(f"freq-tui: error: {outcome.training.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .rundir import RunDir
    from .status import STALE_TEXT
    from .runlist import format_table, list_runs, to_json

    root = Path(args.runs_root)
    if not root.is_dir():
        raise UserError(str(root), "runs directory not found (choose one with --runs-root)")
    runs = list_runs(root)
    if args.json:
        print(to_json(runs))
    elif not runs:
        print(f"No runs in {root}/")
    else:
        print(format_table(runs))
        for run in runs:
            if run.stale:
                print(f"{run.path.name}: {STALE_TEXT}; {RunDir(run.path).resume_hint()}")
            elif run.reason:
                print(f"{run.path.name}: unreadable ({run.reason})")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import DEFAULT_FRACTIONS, base_settings, run_sweep, sweep_configs

    fractions = DEFAULT_FRACTIONS
    if args.fractions:
        try:
            fractions = tuple(float(x) for x in args.fractions.replace(",", " ").split())
        except ValueError:
            raise UserError("--fractions", f"must be numbers between 0 and 1 (got {args.fractions!r})") from None
        if not fractions or any(not 0.0 <= f <= 1.0 for f in fractions):
            raise UserError("--fractions", f"must be numbers between 0 and 1 (got {args.fractions!r})")
    overrides = {name: getattr(args, name) for name in ("epochs", "seed") if getattr(args, name) is not None}
    base = base_settings({"stateful": args.stateful_preset, "sequence": args.sequence_preset})
    points = sweep_configs(base, fractions, overrides)

    def show(row) -> None:
        print(f"phase U(0, {row.phase_fraction:g}*2pi) {row.model:>8}: test MSE {mse(row.test_mse)} "
              f"(band-pass {mse(row.bandpass_mse)}, zero {mse(row.zero_mse)}, {row.train_time_s:.0f} s)", flush=True)

    if args.jobs == 1:
        run_sweep(points, args.out, on_row=show)
        print(f"Wrote {args.out}/sweep.csv, sweep.md and sweep.png")
        return EXIT_OK
    from rich.console import Console

    from .parallel_view import RunsTable
    from .sweep import point_label

    with stop_signals(StopFlag()) as stop:
        with RunsTable([point_label(p) for p in points], Console(), f"{len(points)} points, {args.jobs} at once") as view:
            def done(report) -> None:
                row = report.value
                view.done(report, row and row.test_mse,
                          f"test MSE {mse(row.test_mse)}, {row.train_time_s:.0f} s" if row else "")

            rows = run_sweep(points, args.out, jobs=args.jobs, should_stop=stop.is_set, on_update=view.update,
                             on_done=done)
    if rows:
        print(f"Wrote {args.out}/sweep.csv, sweep.md and sweep.png ({len(rows)} of {len(points)} points)")
    return EXIT_OK if len(rows) == len(points) else EXIT_INTERRUPTED if stop.is_set() else EXIT_FAILED


def cmd_extract(args: argparse.Namespace) -> int:
    from .audio import extract_audio

    result = extract_audio(args.audio, args.checkpoint, args.out, normalise=args.normalise)
    print(f"{result.source}: {result.source_rate} Hz -> {result.fs:g} Hz, {result.t.shape[0]} samples, gain {result.gain:.4g}")
    # No ground truth exists for real audio: report model-free fits instead.
    print(f"{'Hz':>8}  {'input amplitude at Hz':>21}  {'output RMS':>10}  {'output R2 at Hz':>15}")
    for hz, component, amp, r2 in zip(result.frequencies, result.components, result.fitted_amplitudes, result.output_r2):
        print(f"{hz:>8g}  {amp:>21.4f}  {np.sqrt(np.mean(component ** 2)):>10.4f}  {r2:>15.4f}")
    for path in result.files:
        print(f"wrote {path}")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None, parser: Optional[argparse.ArgumentParser] = None,
         process: Optional[bool] = None) -> int:
    """The command line. `process` (default: argv is None, the process's own
    arguments): the process ends after this, so a Ctrl+C while it shuts
    down ends it with one line too."""
    process = process if process is not None else argv is None
    argv = sys.argv[1:] if argv is None else argv
    if process and list(argv[:1]) != ["app"]:  # the app draws on the terminal itself
        guard_std_streams()  # output that goes away never fails a run
    try:
        return _main(argv, parser)
    except KeyboardInterrupt:  # while parsing or importing, before a handler runs
        print("freq-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if process:
            _quiet_shutdown()


def _quiet_shutdown() -> None:
    """From here the process only ends (threads joined, files closed): a
    Ctrl+C now ends it at once, exit 130 and one line, where Python would
    print a KeyboardInterrupt traceback from its shutdown code."""
    def stop(signum, frame):
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        try:
            os.write(2, b"freq-tui: interrupted\n")
        except OSError:
            pass
        os._exit(EXIT_INTERRUPTED)

    try:
        signal.signal(signal.SIGINT, stop)
    except ValueError:  # not the main thread
        pass


def _main(argv: Sequence[str], parser: Optional[argparse.ArgumentParser] = None) -> int:
    argv = list(argv)
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"freq-tui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # a second Ctrl+C (or a first one outside training)
        print("freq-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("freq-tui: error: out of memory (try a smaller hidden_size, batch_size or duration)", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        # A folder or file the system refused that no check above named (the
        # library turns the ones it expects into UserErrors): still one line.
        if exc.filename is None:
            raise
        print(f"freq-tui: error: {clip(str(exc.filename), SUBJECT_LIMIT)}: {exc.strerror or exc.__class__.__name__}",
              file=sys.stderr)
        return EXIT_USAGE

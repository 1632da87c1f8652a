"""Kill `freq-tui train` (SIGKILL: no handler, no cleanup) at many random
moments. Every run directory left behind must load (config, metrics, status,
results, checkpoints with weights_only=True), report (evaluate best.pt) and
resume to exactly the numbers of a run that was never killed.

The training processes are forked from this one, which has torch imported
already, so a kill costs a fraction of a second instead of an interpreter
start; each child runs the real CLI entry point."""
import json
import math
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

import pytest
import torch

from lstm_core import cli
from lstm_core.checkpoint import load_checkpoint, model_from_checkpoint
from lstm_core.rundir import RunDir
from lstm_core.evaluation import evaluate_run
from lstm_core.report import export_run
from lstm_core.runner import resume_training
from conftest import run_numbers

KILLS = 30
SEED = 20261125
TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--batch-size", "16",
        "--device", "cpu", "--noise", "informative", "--epochs", "4"]

fork = multiprocessing.get_context("fork") if sys.platform != "win32" else None


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    """The report (five matplotlib figures, seconds per run) is not what
    these tests are about; runs here skip drawing it."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


def train_quietly(argv):
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    torch.set_num_threads(1)
    sys.exit(cli.main(argv))


def check_loads_and_reports(run: Path) -> None:
    run_dir = RunDir.open(run)  # exists, has config.toml
    config = run_dir.read_config()
    text = (run / "metrics.jsonl").read_text() if (run / "metrics.jsonl").exists() else ""
    records = [json.loads(line) for line in text.splitlines()]  # every line whole
    assert [r["epoch"] for r in records] == list(range(1, len(records) + 1))
    for name in ("status.json", "results.json"):
        if (run / name).exists():
            assert isinstance(json.loads((run / name).read_text()), dict)
    for name in ("last.pt", "best.pt"):
        if (run / name).exists():
            payload = load_checkpoint(run / name)  # torch.load(weights_only=True) inside
            assert 1 <= payload["epoch"] <= config.epochs
    if (run / "best.pt").exists():  # what `freq-tui report` evaluates
        model_from_checkpoint(run / "best.pt")
        assert math.isfinite(evaluate_run(run_dir).results.scores.test_mse)


@pytest.mark.skipif(fork is None, reason="needs fork")
def test_killed_at_any_moment_every_run_dir_loads_reports_and_resumes(tmp_path):
    # In-process first: this also imports everything training uses lazily,
    # so the forked children start warm.
    assert cli.main(["train", *TINY, "--run-dir", str(tmp_path / "reference")]) == 0
    expected = run_numbers(tmp_path / "reference")
    started = time.monotonic()
    child = fork.Process(target=train_quietly, args=(["train", *TINY, "--run-dir", str(tmp_path / "unkilled")],))
    child.start()
    child.join()
    run_time = time.monotonic() - started
    assert child.exitcode == 0 and run_numbers(tmp_path / "unkilled") == expected

    rng = random.Random(SEED)
    runs_root = tmp_path / "runs"
    left_behind = []
    span = 0.9 * run_time  # kill times cover the whole life of a run
    for i in range(KILLS):
        # Half the runs get a default directory name under runs/, half an
        # explicit --run-dir.
        target = ["--runs-root", str(runs_root)] if i % 2 else ["--run-dir", str(tmp_path / f"explicit-{i}")]
        before = set(runs_root.glob("*"))
        child = fork.Process(target=train_quietly, args=(["train", *TINY, *target],))
        child.start()
        time.sleep(rng.uniform(0.0, span))
        child.kill()
        child.join()
        written = set(runs_root.glob("*")) - before if i % 2 else {tmp_path / f"explicit-{i}"}
        if any(RunDir(p).read_status().get("status") == "finished" for p in written if p.is_dir()):
            span *= 0.85  # this run was faster than the first (another test's load went away)
        left_behind = [p for p in [*runs_root.glob("*"), *tmp_path.glob("explicit-*")] if not p.name.startswith(".")]
    assert left_behind, "no kill left a run directory behind"

    resumed = finished = 0
    # Temporary files of writes cut short; resume removes them.
    torn_writes = sum(len(list(run.glob(".*.tmp"))) for run in left_behind)
    # The whole report (figures too) for one killed run, as `freq-tui report` writes it.
    drawn = next(run for run in left_behind if (run / "best.pt").exists())
    assert all(path.is_file() for path in export_run(evaluate_run(drawn)))
    for run in left_behind:
        check_loads_and_reports(run)
        if RunDir(run).read_status().get("status") == "finished":
            finished += 1
        else:
            outcome = resume_training(run)
            assert outcome.training.status == "finished"
            resumed += 1
        check_loads_and_reports(run)
        assert run_numbers(run) == expected, run
    assert resumed >= KILLS // 3  # most kills landed while training ran
    print(f"{len(left_behind)} run dirs: {resumed} resumed, {finished} had finished, {torn_writes} torn writes; "
          f"run time {run_time:.2f} s")

"""Interruption keeps the last whole epoch; `--resume` continues from it and,
on CPU, ends with exactly the numbers of a run that was never interrupted."""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lstm_core import cli
from lstm_core.checkpoint import load_checkpoint, model_from_checkpoint
from lstm_core.config import RunConfig
from lstm_core.errors import UserError
from lstm_core.events import EpochEnd
from lstm_core.rundir import RunDir
from lstm_core.runner import resume_training, run_training
from lstm_core.trainer import StopFlag

ROOT = Path(__file__).resolve().parents[1]
TIMES = ("epoch_time", "train_time_s")  # wall-clock, the only numbers allowed to differ


def without_times(record):
    if isinstance(record, dict):
        return {k: without_times(v) for k, v in record.items() if k not in TIMES}
    if isinstance(record, list):
        return [without_times(v) for v in record]
    return record


def stop_after_epoch(epoch: int, stop: StopFlag):
    def on_event(event):
        if isinstance(event, EpochEnd) and event.epoch == epoch:
            stop.request("interrupted")  # lands in the first batch of the next epoch
    return on_event


def run_files(run_dir: Path):
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return without_times(metrics), without_times(json.loads((run_dir / "results.json").read_text()))


@pytest.mark.parametrize("settings", [
    dict(model="stateful", epochs=5),
    # dropout (global RNG), shuffled windows (generator), a plateau-driven lr
    dict(model="sequence", sequence_length=5, num_layers=2, dropout=0.3, epochs=5, lr_patience=0, lr=0.05),
], ids=["stateful", "sequence-dropout"])
def test_resumed_run_ends_with_the_same_numbers(settings, tiny_config, tmp_path):
    config = tiny_config(**settings)
    reference = run_training(config, runs_root=tmp_path / "reference").run_dir.path

    stop = StopFlag()
    first = run_training(config, runs_root=tmp_path / "resumed", stop=stop, on_event=stop_after_epoch(2, stop))
    assert first.training.status == "interrupted" and first.training.epochs_run == 2
    assert "epoch 3" in first.training.message
    path = first.run_dir.path
    assert json.loads((path / "status.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(path / "last.pt")["epoch"] == 2
    assert len((path / "metrics.jsonl").read_text().splitlines()) == 2

    second = resume_training(path)
    assert second.training.status == "finished" and second.training.epochs_run == 5
    assert json.loads((path / "status.json").read_text())["status"] == "finished"
    assert run_files(path) == run_files(reference)
    # best.pt on disk is the same model as the reference's, weight for weight
    a, b = load_checkpoint(path / "best.pt"), load_checkpoint(reference / "best.pt")
    assert a["epoch"] == b["epoch"]
    for name in a["model_state"]:
        assert torch.equal(a["model_state"][name], b["model_state"][name])


def test_resume_twice_and_early_stopping_counters_survive(tiny_config, tmp_path):
    # lr so large that validation stops improving after epoch 2: patience
    # (3 epochs) ends the run at epoch 5; interrupted at epoch 4, the
    # resumed run must remember the two epochs without improvement.
    config = tiny_config(epochs=30, patience=3, lr=1.0, lr_patience=100)
    reference = run_training(config, runs_root=tmp_path / "reference")
    assert reference.training.status == "early_stopped"
    assert (reference.training.best_epoch, reference.training.epochs_run) == (2, 5)
    stop = StopFlag()
    path = run_training(config, runs_root=tmp_path / "r", stop=stop, on_event=stop_after_epoch(1, stop)).run_dir.path
    stop = StopFlag()
    assert resume_training(path, stop=stop, on_event=stop_after_epoch(4, stop)).training.status == "interrupted"
    assert load_checkpoint(path / "last.pt")["training_state"]["epochs_without_improvement"] == 2
    assert resume_training(path).training.status == "early_stopped"
    assert run_files(path) == run_files(reference.run_dir.path)


def test_finished_runs_are_refused(tiny_config, tmp_path):
    path = run_training(tiny_config(epochs=1), runs_root=tmp_path).run_dir.path
    before = {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}
    with pytest.raises(UserError, match="run already finished; nothing to resume"):
        resume_training(path)
    assert {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()} == before


def test_a_run_in_use_is_refused(tiny_config, tmp_path):
    stop = StopFlag()
    path = run_training(tiny_config(epochs=3), runs_root=tmp_path, stop=stop,
                        on_event=stop_after_epoch(1, stop)).run_dir.path
    holder = RunDir.open(path).acquire()  # another process training in it
    try:
        assert holder.is_active()
        with pytest.raises(UserError, match="in use by another freq-tui process"):
            resume_training(path)
    finally:
        holder.release()
    assert not RunDir(path).is_active()
    assert resume_training(path).training.status == "finished"


def test_killed_before_its_first_epoch_starts_over(tiny_config, tmp_path):
    config = tiny_config(epochs=2)
    reference = run_training(config, runs_root=tmp_path / "reference").run_dir.path
    path = tmp_path / "killed"
    path.mkdir()
    RunDir(path).write_config(config)
    RunDir(path).write_status("running")
    (path / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")  # a killed writer's leftover
    assert resume_training(path).training.status == "finished"
    assert run_files(path) == run_files(reference)
    assert not list(path.glob("*.tmp")) and not list(path.glob(".*.tmp"))


def test_damaged_best_pt_is_rebuilt_from_last_pt(tiny_config, tmp_path):
    """best.pt and last.pt are separate files: a kill between their writes
    leaves best.pt out of step; last.pt holds what is needed to rebuild it."""
    config = tiny_config(epochs=4)
    reference = run_training(config, runs_root=tmp_path / "reference").run_dir.path
    stop = StopFlag()
    path = run_training(config, runs_root=tmp_path / "r", stop=stop, on_event=stop_after_epoch(2, stop)).run_dir.path
    (path / "best.pt").write_bytes(b"not a checkpoint")
    lines = (path / "metrics.jsonl").read_text().splitlines()
    (path / "metrics.jsonl").write_text(lines[0] + "\n")  # and the metrics file one epoch behind last.pt
    resume_training(path)
    assert run_files(path) == run_files(reference)
    model_from_checkpoint(path / "best.pt")


def test_nan_loss_stops_with_the_epoch_named_and_keeps_checkpoints(tiny_config, tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    real_mse = torch.nn.functional.mse_loss
    updates_per_epoch = 3  # 40 samples, batch_size 16

    def poisoned_mse(output, target, *args, **kwargs):
        calls["n"] += 1
        loss = real_mse(output, target, *args, **kwargs)
        return loss * math.nan if calls["n"] > 2 * updates_per_epoch else loss  # NaN from epoch 3 on

    monkeypatch.setattr(torch.nn.functional, "mse_loss", poisoned_mse)
    run = tmp_path / "run"
    code = cli.main(["train", "--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--epochs", "5",
                     "--hidden-size", "8", "--batch-size", "16", "--device", "cpu", "--run-dir", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.EXIT_FAILED == 1
    assert err == ["freq-tui: error: loss became NaN in epoch 3; checkpoints of epoch 2 kept (try a lower --lr)"]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "diverged" and "epoch 3" in status["message"]
    assert load_checkpoint(run / "last.pt")["epoch"] == 2
    model, _, payload = model_from_checkpoint(run / "best.pt")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert [m["epoch"] for m in RunDir(run).read_metrics()] == [1, 2]
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "diverged" and math.isfinite(results["test_mse"])
    with pytest.raises(UserError, match="run already diverged"):
        resume_training(run)


def test_second_signal_stops_at_once():
    stop = StopFlag()
    previous = cli.install_stop_signals(stop.request)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set() and stop.reason == "interrupted"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# ---- real signals sent to a headless `freq-tui train` ---------------------------
SLOW_TINY = ["--duration", "2", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--batch-size", "8",
             "--device", "cpu", "--noise", "informative", "--epochs", "12"]


def start_training(run: Path, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lstm_core", "train", *extra], cwd=run.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(run: Path, n: int, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.communicate()}")
        if len(RunDir(run).read_metrics()) >= n:
            return
        time.sleep(0.01)
    raise AssertionError("training did not reach the epoch in time")


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_keeps_the_run_and_resume_matches_an_uninterrupted_run(signame, tiny_config, tmp_path):
    run = tmp_path / "run"
    proc = start_training(run, *SLOW_TINY, "--run-dir", str(run))
    wait_for_epochs(run, 1, proc)
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_INTERRUPTED == 130, err
    assert "Traceback" not in err
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted"
    kept = load_checkpoint(run / "last.pt")["epoch"]
    assert 1 <= kept < 12
    assert [m["epoch"] for m in RunDir(run).read_metrics()] == list(range(1, kept + 1))
    if signame != "SIGHUP":  # after a hang-up the output goes nowhere, by design
        assert f"Continue with: freq-tui train --resume {run}" in " ".join(out.split())
    if signame != "SIGTERM":
        return  # one resume through the CLI is enough; the others resume in-process above
    proc = start_training(run, "--resume", str(run))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    args = dict(zip(SLOW_TINY[::2], SLOW_TINY[1::2]))
    config_values = {k[2:].replace("-", "_"): v for k, v in args.items()}
    from lstm_core.config import build_config
    reference = run_training(build_config(config_values), runs_root=tmp_path / "reference").run_dir.path
    assert run_files(run) == run_files(reference)

"""Interruption keeps the last whole epoch; `--resume` continues from it and,
on CPU, ends with exactly the numbers of a run that was never interrupted."""
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lstm_core import cli, stopping
from lstm_core.checkpoint import load_checkpoint, model_from_checkpoint
from lstm_core.errors import UserError
from lstm_core.events import EpochEnd
from lstm_core.rundir import RunDir
from lstm_core.runner import resume_training, run_training
from lstm_core.trainer import StopFlag
from conftest import TIMES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    """The report (five matplotlib figures, seconds per run) is not what
    these tests are about; runs here skip drawing it."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


def without_times(record):
    if isinstance(record, dict):
        return {k: without_times(v) for k, v in record.items() if k not in TIMES}
    if isinstance(record, list):
        return [without_times(v) for v in record]
    return record


def stop_after_epoch(epoch: int, stop: StopFlag):
    def on_event(event):
        if isinstance(event, EpochEnd) and event.record.epoch == epoch:
            stop.request("interrupted")  # lands in the first batch of the next epoch
    return on_event


def run_files(run_dir: Path):
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return without_times(metrics), without_times(json.loads((run_dir / "results.json").read_text()))


@pytest.mark.parametrize("settings", [
    dict(model="stateful", epochs=5),
    # dropout (global RNG), shuffled windows (generator), a plateau-driven lr
    dict(model="sequence", sequence_length=5, num_layers=2, dropout=0.3, epochs=5, lr_patience=0, lr=0.05),
    dict(model="stateful", augment_snr_db=10.0, epochs=4),  # fresh input noise every epoch
    dict(model="attention", sequence_length=5, epochs=4),
    dict(model="multitask", epochs=4),
    # the cosine waits for a curriculum across the interruption
    dict(model="stateful", truncation="full", curriculum_start=2, curriculum_growth=1.5, curriculum_threshold=1e9,
         epochs=6, lr=0.01, scheduler="cosine", cosine_epochs=3, curriculum_lr_min=0.004),
    # the weight average (validated, kept as best) across the interruption
    dict(model="stateful", epochs=5, lr=0.05, ema_decay=0.9),
], ids=["stateful", "sequence-dropout", "augmented", "attention", "multitask", "cosine-hold", "ema"])
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
    assert second.training.status == "finished" and second.training.epochs_run == config.epochs
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
    assert [m.epoch for m in RunDir(run).read_metrics()] == [1, 2]
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "diverged" and math.isfinite(results["test_mse"])
    with pytest.raises(UserError, match="run already diverged"):
        resume_training(run)


def test_second_signal_stops_at_once():
    stop = StopFlag()
    previous = stopping.install_stop_signals(stop.request)
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
fork = multiprocessing.get_context("fork") if sys.platform != "win32" else None


def wait_for(condition, proc_alive, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert proc_alive(), "training ended before the signal was sent"
        time.sleep(0.005)
    raise AssertionError("timed out")


def check_interrupted(run: Path) -> int:
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted"
    kept = load_checkpoint(run / "last.pt")["epoch"] if (run / "last.pt").exists() else 0
    assert [m.epoch for m in RunDir(run).read_metrics()] == list(range(1, kept + 1))
    return kept


def test_ctrl_c_in_a_real_process(tmp_path):
    """`python -m lstm_core train` as a user starts it: Ctrl+C once the run
    directory exists. Exit 130, status interrupted, a hint how to resume."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lstm_core", "train", *SLOW_TINY, "--run-dir", str(run)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (run / "status.json").exists(), lambda: proc.poll() is None)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == cli.EXIT_INTERRUPTED == 130, err
    assert "Traceback" not in err + out
    kept = check_interrupted(run)
    assert kept < 12
    assert f"Continue with: freq-tui train --resume {run}" in " ".join(out.split())


def cli_child(argv):
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    torch.set_num_threads(1)
    sys.exit(cli.main(argv))


@pytest.mark.skipif(fork is None, reason="needs fork")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_keeps_the_run_and_resume_matches_an_uninterrupted_run(signame, tmp_path):
    """The CLI entry point in a forked process (warm, so quick): a signal
    after epoch 1, then `train --resume`, ends with the numbers of a run that
    was never interrupted. (A hang-up stops a run only with on_hangup = stop.)"""
    hangup = ["--on-hangup", "stop"] if signame == "SIGHUP" else []
    reference = tmp_path / "reference"
    assert cli.main(["train", *SLOW_TINY, *hangup, "--run-dir", str(reference)]) == 0  # also warms up this process
    run = tmp_path / "run"
    child = fork.Process(target=cli_child, args=(["train", *SLOW_TINY, *hangup, "--run-dir", str(run)],))
    child.start()
    wait_for(lambda: len(RunDir(run).read_metrics()) >= 1, child.is_alive)
    os.kill(child.pid, getattr(signal, signame))
    child.join(timeout=120)
    assert child.exitcode == cli.EXIT_INTERRUPTED
    assert 1 <= check_interrupted(run) < 12
    child = fork.Process(target=cli_child, args=(["train", "--resume", str(run)],))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == 0
    assert run_files(run) == run_files(reference)

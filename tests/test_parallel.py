"""--jobs: runs in processes of their own, the same numbers as one at a time,
and a failed or interrupted run is reported by its label without losing the others."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstm_core.parallel import max_jobs, run_parallel
from lstm_core.sweep import run_sweep, sweep_configs

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--duration", "0.3", "--fs", "100", "--frequencies", "2,5", "--epochs", "2", "--hidden-size", "8",
        "--device", "cpu"]


def freq_tui(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "lstm_core", *args], capture_output=True, text=True,
                          timeout=300, env=env, **kwargs)


def seed_results(parent):
    return {p.name: json.loads((p / "results.json").read_text())["test_mse"] for p in sorted(parent.glob("seed-*"))}


def test_jobs_2_gives_the_numbers_of_jobs_1(tmp_path):
    runs = {}
    for jobs in ("1", "2"):
        parent = tmp_path / f"j{jobs}"
        proc = freq_tui("train", *TINY, "--repeats", "3", "--jobs", jobs, "--run-dir", str(parent))
        assert proc.returncode == 0, proc.stderr
        runs[jobs] = seed_results(parent)
        summary = json.loads((parent / "summary.json").read_text())
        assert summary["seeds"] == [0, 1, 2] and not summary["missing"]
    assert runs["1"] == runs["2"] and len(runs["1"]) == 3  # to the last digit
    stats = summary["metrics"]["test MSE"]
    values = sorted(runs["2"].values())
    assert stats["median"] == values[1] and summary["worst_seed"]["test_mse"] == values[-1]
    assert "Worst seed" in proc.stdout and "Median" in proc.stdout
    for label in ("seed 0", "seed 1", "seed 2"):
        assert f"{label}: finished" in proc.stdout


def job(arg, emit, stop):
    """For the tests below: fails, dies, dies halfway through a message, or doubles."""
    emit({"epoch": 1})
    if arg == "raise":
        raise RuntimeError("broken on purpose")
    if arg == "die":
        os._exit(3)
    if arg == "die_mid_message":
        import threading

        threading.Thread(target=emit, args=({"blob": "x" * (64 << 20)},), daemon=True).start()
        time.sleep(0.05)  # the 64 MB update is still being written
        os._exit(4)
    return "finished", "", arg * 2


def test_a_failed_or_dead_job_is_reported_and_the_others_kept():
    updates, done = [], []
    reports = run_parallel(job, ["raise", 1, "die", 2], ["a", "b", "c", "d"], 2,
                           on_update=lambda i, u: updates.append(i), on_done=done.append)
    assert [r.status for r in reports] == ["failed", "finished", "failed", "finished"]
    assert [r.value for r in reports] == [None, 2, None, 4]
    assert "broken on purpose" in reports[0].message and "exit code 3" in reports[2].message
    assert [r.label for r in reports] == ["a", "b", "c", "d"] and len(done) == 4
    assert set(updates) == {0, 1, 2, 3}


def test_a_worker_that_dies_mid_message_stops_no_other():
    """Each worker reports through a pipe of its own, so one killed while it
    writes (a crash, the OOM killer) leaves no lock held for the others."""
    reports = run_parallel(job, ["die_mid_message", 1, 2, 3, "die_mid_message", 4], list("abcdef"), 2)
    assert [r.status for r in reports] == ["failed", "finished", "finished", "finished", "failed", "finished"]
    assert [r.value for r in reports] == [None, 2, 4, 6, None, 8]
    assert "exit code 4" in reports[0].message


def test_an_interrupt_keeps_the_finished_and_names_the_rest(tmp_path):
    parent = tmp_path / "rep"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lstm_core", "train", *TINY, "--epochs", "1000", "--patience",
                             "1000", "--repeats", "3", "--jobs", "2", "--run-dir", str(parent)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # both running runs have ended an epoch
        metrics = [parent / f"seed-{s}" / "metrics.jsonl" for s in (0, 1)]
        if all(m.exists() and m.read_text().strip() for m in metrics):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # to the parent alone: it passes the stop on
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    for seed in (0, 1):
        status = json.loads((parent / f"seed-{seed}" / "status.json").read_text())
        assert status["status"] == "interrupted", status
    assert "seed 2: not_started" in out and not (parent / "seed-2").exists()
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]  # evaluated from their best epoch so far
    assert [row["seed"] for row in summary["missing"]] == [2]
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [["--jobs", "0"], ["--jobs", str(max_jobs() + 1)], ["--jobs", "x"],
                                  ["--jobs", "2"]])  # the last: no --repeats
def test_jobs_out_of_bounds_is_one_line(args, tmp_path):
    proc = freq_tui("train", *TINY, *args, cwd=tmp_path)
    assert proc.returncode == 2 and "--jobs" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_sweep_jobs_2_gives_the_table_of_jobs_1(tmp_path):
    tiny = {"duration": 0.3, "fs": 100.0, "frequencies": [2.0, 5.0], "epochs": 2, "hidden_size": 8, "device": "cpu"}
    points = sweep_configs({"stateful": tiny, "sequence": {**tiny, "sequence_length": 5}}, (0.5,))
    tables = []
    for jobs in (1, 2):
        rows = run_sweep(points, tmp_path / f"sweep{jobs}", jobs=jobs)
        assert [(r.phase_fraction, r.model) for r in rows] == [(p.phase_fraction, p.model) for p in points]
        tables.append((tmp_path / f"sweep{jobs}" / "sweep.md").read_text())
    assert tables[0] == tables[1]
    proc = freq_tui("sweep", "--jobs", "0", "--out", str(tmp_path / "never"))
    assert proc.returncode == 2 and "--jobs" in proc.stderr and not (tmp_path / "never").exists()


def test_runs_are_spread_over_the_gpus_in_turn(monkeypatch, tiny_config):
    import torch

    from lstm_core.parallel import spread_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    configs = [tiny_config(seed=s) for s in range(3)]
    for config, device in zip(configs, ("auto", "cuda", "cpu")):
        config.device = device
    assert [c.device for c in spread_devices(configs)] == ["cuda:0", "cuda:1", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert [c.device for c in spread_devices(configs)] == ["auto", "cuda", "cpu"]


def test_on_one_gpu_every_job_runs_on_it(monkeypatch, tiny_config):
    """--jobs J on a one-GPU box: J processes share cuda:0; on three GPUs, five runs go round them."""
    import torch

    from lstm_core.parallel import spread_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    configs = [tiny_config(seed=s, device="auto") for s in range(5)]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert [c.device for c in spread_devices(configs)] == ["cuda:0"] * 5
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    placed = spread_devices(configs)
    assert [c.device for c in placed] == ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]
    assert [c.seed for c in placed] == [0, 1, 2, 3, 4] and all(c.device == "auto" for c in configs)

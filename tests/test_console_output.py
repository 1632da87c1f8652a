"""Console output is best effort; the run is not. Real processes whose
stdout goes away: a pipe closed by its reader after the first line, a full
device, a stdout closed before the command starts. The run ends as training
earned, every file written, the first failed write noted once in its
console.log; commands whose reader went away end quietly (no traceback,
exit 0 once their work is done)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_core.rundir import CONSOLE_LOG, RunDir

TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--batch-size", "16",
        "--device", "cpu", "--noise", "informative"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
COMMAND = [sys.executable, "-m", "tui"]


def finished(run: Path, epochs: int) -> None:
    """Every file a finished run has, its status the one training earned, the
    failed write noted once."""
    run_dir = RunDir(run)
    assert run_dir.read_status()["status"] == "finished"
    assert len(run_dir.read_metrics()) == epochs
    assert run_dir.read_results().training.status == "finished"
    for name in ("best.pt", "last.pt", "report.md", "report.html", "training_curves.png"):
        assert (run / name).is_file(), name
    notes = (run / CONSOLE_LOG).read_text().splitlines()
    assert len(notes) == 1 and "console output stopped: stdout" in notes[0], notes


def test_train_into_a_pipe_closed_after_the_first_line(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([*COMMAND, "train", *TINY, "--epochs", "3", "--run-dir", str(run)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    first = proc.stdout.readline()
    assert first  # the reader saw a line, then went away (as head -1 does)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(300) == 0 and "Traceback" not in err, err
    finished(run, 3)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_train_into_a_full_device(tmp_path):
    run = tmp_path / "run"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*COMMAND, "train", *TINY, "--epochs", "2", "--run-dir", str(run)], env=ENV,
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    finished(run, 2)


def test_train_with_stdout_closed(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(["bash", "-c", 'exec "$@" >&-', "_", *COMMAND, "train", *TINY, "--epochs", "2",
                           "--run-dir", str(run)], env=ENV, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    finished(run, 2)
    assert "closed when the command started" in (run / CONSOLE_LOG).read_text()
    # nothing the run printed went into a file it opened in place of stdout
    assert all(json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines())


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from lstm_core.config import build_config
    from lstm_core.runner import run_training

    root = tmp_path_factory.mktemp("runs")
    for name in ("a", "b"):
        run_training(build_config({"duration": 0.4, "fs": 100.0, "frequencies": [2.0, 5.0], "hidden_size": 8,
                                   "epochs": 1, "device": "cpu", "run_dir": str(root / name)}))
    return root


@pytest.mark.parametrize("command", ["runs", "compare", "report", "evaluate"])
def test_listing_and_report_commands_whose_reader_went_away(command, two_runs, tmp_path):
    """Into a pipe whose reader has gone (as `head -1` leaves it after its
    line; here gone before the first write, so a write surely fails): no
    traceback, nothing on stderr, exit 0, the work done. `runs` also into
    a real `head -1`."""
    a, b = two_runs / "a", two_runs / "b"
    argv = {"runs": ["runs", "--runs-root", str(two_runs)],
            "compare": ["compare", str(a), str(b), "--out", str(tmp_path / "compare")],
            "report": ["report", str(a)],
            "evaluate": ["evaluate", str(a / "best.pt"), "--out", str(tmp_path / "evaluated")]}[command]
    if command == "runs":
        shell = subprocess.run(["bash", "-c", '"$@" | head -1; exit "${PIPESTATUS[0]}"', "_", *COMMAND, *argv],
                               env=ENV, capture_output=True, text=True, timeout=300)
        assert shell.returncode == 0 and "Traceback" not in shell.stderr, shell.stderr
        assert len(shell.stdout.splitlines()) == 1
    proc = subprocess.Popen([*COMMAND, *argv], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first write
    err = proc.stderr.read().decode()
    assert proc.wait(300) == 0 and "Traceback" not in err and err == "", err
    if command == "compare":
        assert (tmp_path / "compare" / "compare.html").is_file()
    if command == "report":
        assert RunDir(a).read_results() is not None
        assert "console output stopped: stdout" in (a / CONSOLE_LOG).read_text()
    if command == "evaluate":
        assert RunDir(tmp_path / "evaluated").read_status()["status"] == "evaluated"

"""`freq-tui train` end to end, as a user runs it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_core.checkpoint import model_from_checkpoint

TINY = ["--duration", "0.3", "--fs", "100", "--frequencies", "2,5", "--epochs", "2",
        "--hidden-size", "8", "--device", "cpu"]


def freq_tui(*args, cwd=None):
    # PYTHONPATH: run this checkout's code even from another cwd (an editable
    # install elsewhere would otherwise win).
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "lstm_core", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=env)


def test_train_writes_a_complete_run_directory(tmp_path):
    run = tmp_path / "run"
    proc = freq_tui("train", *TINY, "--run-dir", str(run))
    assert proc.returncode == 0, proc.stderr
    assert "EVALUATION RESULTS" in proc.stdout and "Test/Train ratio" in proc.stdout
    for name in ("config.toml", "metrics.jsonl", "results.json", "best.pt", "last.pt", "status.json"):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    assert {"train_mse", "test_mse", "ratio", "per_frequency"} <= results.keys()
    assert [row["hz"] for row in results["per_frequency"]] == [2.0, 5.0]
    assert {"hz", "train_mse", "test_mse", "correlation"} <= results["per_frequency"][0].keys()
    assert results["ratio"] == pytest.approx(results["test_mse"] / results["train_mse"])
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    model, config, payload = model_from_checkpoint(run / "best.pt")
    assert config.hidden_size == 8 and payload["architecture"]["n_frequencies"] == 2


def test_config_file_and_flags(tmp_path):
    (tmp_path / "c.toml").write_text('model = "sequence"\nsequence_length = 5\nhidden_size = 4\n')
    run = tmp_path / "run"
    proc = freq_tui("train", *TINY, "--config", str(tmp_path / "c.toml"), "--hidden-size", "6", "--run-dir", str(run))
    assert proc.returncode == 0, proc.stderr
    saved = (run / "config.toml").read_text()
    assert 'model = "sequence"' in saved and "hidden_size = 6" in saved


def test_default_run_dirs_are_new_each_time(tmp_path):
    for _ in range(2):
        assert freq_tui("train", *TINY, "--epochs", "1", cwd=tmp_path).returncode == 0
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.name.endswith("-stateful") or "-stateful-" in r.name for r in runs)


@pytest.mark.parametrize("args, field", [
    (["--epochs", "0"], "epochs"), (["--hidden-size", "0"], "hidden_size"), (["--lr", "-1"], "lr"),
    (["--model", "gru"], "model"), (["--model", "sequence", "--sequence-length", "1"], "sequence_length"),
    (["--amplitude-low", "1.5"], "amplitude_low"), (["--config", "missing.toml"], "missing.toml"),
    (["--device", "cuda:7"], "device"), (["--bogus"], "unrecognized"),
])
def test_bad_input_exits_2_with_one_line(args, field, tmp_path):
    proc = freq_tui("train", *TINY, *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert field in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_existing_run_directory_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    proc = freq_tui("train", *TINY, "--run-dir", str(run))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert (run / "keep.txt").read_text() == "mine" and len(list(run.iterdir())) == 1


def test_headless_core_never_imports_textual():
    code = "import lstm_core.cli, lstm_core.runner, sys; print('textual' in sys.modules or 'tui' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == "False"


def test_reading_runs_and_their_results_never_imports_torch():
    """`freq-tui runs` and compare's tables read results.json as types
    (lstm_core/results.py) without the training stack."""
    code = ("import lstm_core.runlist, lstm_core.results, lstm_core.compare, sys; "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_no_file_of_the_core_names_the_app():
    import re
    from pathlib import Path

    core = Path(__file__).resolve().parents[1] / "lstm_core"
    pattern = re.compile(r"^\s*(from|import)\s+(tui|textual)\b", re.MULTILINE)
    offenders = [p.name for p in core.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_console_script_opens_the_app_and_runs_the_headless_commands():
    import re

    from tui.cli import main

    assert main(["train", "--epochs", "0"]) == 2  # a headless command, through the app's entry point
    proc = subprocess.run([sys.executable, "-m", "lstm_core"], capture_output=True, text=True)
    assert proc.returncode == 2 and "train" in proc.stdout
    assert not re.search(r"^\s+app\s", proc.stdout, re.MULTILINE)  # the headless core has no app command

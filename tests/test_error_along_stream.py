"""bench/error_along_stream.py: where along the stream a model's error lies."""
import json

import numpy as np

from bench import error_along_stream as eas
from lstm_core.api import start_run


def test_a_mode_that_dies_shows_where():
    fs, n = 100.0, 1000
    t = np.arange(n) / fs
    targets = np.stack([np.sin(2 * np.pi * 1.0 * t), np.sin(2 * np.pi * 3.0 * t)])
    output = targets.copy()
    output[0, 600:] = 0.0  # the 1 Hz oscillation dies at step 600
    measured = eas.along_stream(targets, output, fs, windows=10)
    assert measured["window_starts"] == list(range(0, 1000, 100))
    dead, alive = np.array(measured["mse"][0]), np.array(measured["mse"][1])
    assert np.all(dead[:6] == 0) and np.allclose(dead[6:], 0.5, atol=1e-9)  # mean of sin^2 over whole periods
    assert np.all(alive == 0)
    assert np.allclose(measured["peak_per_second"][0], [1, 1, 1, 1, 1, 1, 0, 0, 0, 0], atol=1e-3)


def test_reads_a_run_and_its_validation_set(tmp_path, tiny_config, capsys):
    outcome = start_run(tiny_config(model="stateful"), runs_root=tmp_path, evaluate=False)
    out = tmp_path / "along.json"
    assert eas.main([str(outcome.run_dir.path), "--checkpoint", "best.pt", "--json", str(out)]) == 0
    measured = json.loads(out.read_text())
    assert measured["seed"] == outcome.run_dir.read_config().val_seed and measured["frequencies"] == [2.0, 5.0]
    assert len(measured["mse"]) == 2 and all(len(row) == eas.WINDOWS for row in measured["mse"])
    assert "MSE in each window" in capsys.readouterr().out


def test_a_missing_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    assert eas.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "last.pt" in err and "not found" in err

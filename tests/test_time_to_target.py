"""bench/time_to_target.py: the smoke path end to end, and how a run is judged."""
import argparse
import json

import pytest

from bench import time_to_target as ttt
from lstm_core.parallel import JobReport
from lstm_core.repeats import SeedOutcome
from conftest import synthetic_scores
from lstm_core.results import Results, TrainingFacts


def test_quick_run_writes_every_preset_row(tmp_path):
    out = tmp_path / "ttt.json"
    assert ttt.main(["--quick", "--presets", "informative-fast", "--guide-epochs", "1", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert [s["preset"] for s in results["presets"]] == ["informative-fast"]
    assert [g["noise"] for g in results["guide"]] == ["literal", "informative"]
    for row in results["runs"]:
        assert row["status"] in ("finished", "target_reached") and row["time_to_stop_s"] > 0
        assert row["run"].endswith("seed 11/31/21")  # a held-out seed set
    assert "| informative-fast |" in results["table"] and "guide's loop" in results["table"]
    assert results["presets"][0]["median_bandpass_ratio"] > 0 and "x band-pass" in results["table"]


def result(test_mse, per_frequency, verdict="ignores_signal"):
    scores = synthetic_scores(test_mse=test_mse, train_mse=test_mse, per_frequency=per_frequency, verdict=verdict)
    training = TrainingFacts(epochs_run=9, train_time_s=100.0, target={"reached": True, "time_to_target_s": 90.0})
    return JobReport(0, "x", "target_reached", "", SeedOutcome(Results(training, scores), "x"))


def test_a_run_meets_its_goal_only_on_every_count():
    assert ttt.judge("literal-stateful", "x", result(0.005, [0.01, 0.002, 0.004, 0.004]))["met"]
    assert not ttt.judge("literal-stateful", "x", result(0.008, [0.025, 0.002, 0.004, 0.001]))["met"]
    assert not ttt.judge("literal-stateful", "x", result(0.005, [0.01] * 4, verdict="uses_signal"))["met"]
    assert not ttt.judge("informative-stateful", "x", result(0.003, [0.003] * 4))["met"]
    failed = ttt.judge("informative-stateful", "x", JobReport(0, "x", "failed", "boom"))
    assert failed["met"] is False and failed["status"] == "failed"
    summary = ttt.per_preset("informative-stateful", [ttt.judge("informative-stateful", "x", result(0.001, [0.001] * 4))])
    assert summary["median_time_s"] == 100.0 and summary["all_met"] is False  # 100 s > the 60 s goal


def test_the_median_goal_and_explicit_seed_sets():
    rows = [ttt.judge("informative-stateful", "x", result(mse, [mse] * 4)) for mse in (0.0004, 0.0006, 0.0019)]
    summary = ttt.per_preset("informative-stateful", rows)
    assert summary["met"] == 3 and summary["median_test_mse"] == 0.0006
    assert summary["median_mse_goal_met"] is False and summary["all_met"] is False  # 0.0006 > 0.0005
    # each run's test MSE over its own test set's band-pass reference (0.03 in these scores)
    assert rows[0]["bandpass_mse"] == 0.03 and summary["median_bandpass_ratio"] == pytest.approx(0.0006 / 0.03)
    assert ttt._goals_text(summary) == "no: median time, median test MSE"  # 100 s > 60 s as well
    assert ttt.seed_sets_arg("41/81/91, 42/82/92") == ((41, 81, 91), (42, 82, 92))
    with pytest.raises(argparse.ArgumentTypeError):
        ttt.seed_sets_arg("41/81")

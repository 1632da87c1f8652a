"""Pilot tests for freq-tui: the whole walk with a tiny config, the form's
validation, stopping, errors in training, following a run, quitting.

No test waits on the wall clock: they wait for the workers to finish and for
the message queue to drain.
"""
from __future__ import annotations

import dataclasses
import re
import time

import pytest
from types import SimpleNamespace

from textual.widgets import Button, DataTable, Input, RichLog

from lstm_core.config import build_config, load_toml
from lstm_core.rundir import RunDir
from lstm_core.runner import run_training
from lstm_core import api
from lstm_core.events import EpochRecord
from lstm_core.formatting import mse
from tui.app import FreqApp, run_app
from tui.screens.configure import ConfigureScreen
from tui.screens.dialogs import ConfirmDialog, ErrorDialog
from tui.screens.evaluate import EvaluateScreen
from tui.screens.runs import RunsScreen
from tui.screens.train import TrainScreen
from tui.widgets.charts import LineChart
from tui.widgets.info import InfoLine

from test_hangup import wait_until

TINY = {"duration": 0.2, "fs": 100.0, "epochs": 2, "hidden_size": 8, "device": "cpu"}


def text_of(screen, selector: str) -> str:
    widget = screen.query_one(selector)
    return widget.text if isinstance(widget, InfoLine) else str(widget.render())


async def settle(app, pilot) -> None:
    """Let every worker finish and every message they posted be handled."""
    for _ in range(50):
        await app.workers.wait_for_complete()
        await pilot.pause()
        # The training worker starts once the Train screen is drawn and its
        # last messages arrive after it ends: go on until the session says so.
        if not app.session.active and not any(w.is_running for w in app.workers):
            break


async def set_field(pilot, screen, name: str, value: str) -> None:
    widget = screen.query_one(f"#field-{name}", Input)
    widget.value = value
    await pilot.pause()


async def test_configure_train_evaluate_export(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigureScreen)
        assert not screen.query_one("#start", Button).disabled
        assert "Ready: stateful model, 4 frequencies, 20 samples, 2 epochs" in text_of(screen, "#config-status")

        await pilot.press("ctrl+r")
        await settle(app, pilot)
        train = app.screen
        assert isinstance(train, TrainScreen)
        session = app.session
        assert session.state == "finished"
        assert [r.epoch for r in session.history] == [1, 2]
        assert train.query_one("#loss-chart", LineChart).draws >= 1
        assert train.query_one("#wave-chart", LineChart).draws >= 1
        assert "FINISHED" in text_of(train, "#train-status")
        assert "2/2" in text_of(train, "#epochs-info")
        loss_chart = train.query_one("#loss-chart", LineChart)
        drawn = loss_chart.draws
        assert "linear y" in loss_chart.shown_title
        await pilot.press("l")  # the loss on a log axis, and back
        assert train.log_y and "log y" in loss_chart.shown_title and loss_chart.draws == drawn + 1
        await pilot.press("l")
        assert not train.log_y and "linear y" in loss_chart.shown_title and loss_chart.draws == drawn + 2
        log_text = "\n".join(line.text for line in train.query_one("#log", RichLog).lines)
        assert re.search(r"epoch +2 ", log_text) and "test MSE" in log_text
        run_dir = RunDir(session.run_dir)
        assert run_dir.read_status()["status"] == "finished"
        assert len(run_dir.read_metrics()) == 2

        await pilot.press("e")
        await settle(app, pilot)
        evaluate = app.screen
        assert isinstance(evaluate, EvaluateScreen)
        assert evaluate.evaluated is not None
        assert evaluate.evaluated is app.carried_evaluation  # the run's own evaluation, not a second one
        assert evaluate.query_one("#per-frequency", DataTable).row_count == 4
        scores = run_dir.read_results().scores
        assert f"test MSE {mse(scores.test_mse)}" in text_of(evaluate, "#eval-ratio")
        assert "cannot show generalisation" in text_of(evaluate, "#eval-ratio")
        assert evaluate.query_one("#pred-chart", LineChart).draws == 1
        await pilot.press("3")
        assert evaluate.frequency_index == 2
        assert evaluate.query_one("#pred-chart", LineChart).draws == 2

        baselines = evaluate.query_one("#baselines", DataTable)
        # LSTM, zero, band-pass, and the LSTM with S zeroed, shuffled and noisier: the report's rows
        assert [baselines.get_row_at(i)[0] for i in range(baselines.row_count)] == \
            [short for _, short, _ in scores.baseline_rows() + scores.ablation_rows()]
        assert baselines.row_count == 6
        assert text_of(evaluate, "#verdict").split("  (v:")[0] in scores.verdict.text
        await pilot.press("v")
        assert text_of(app.screen, "#error-text") == scores.verdict.text
        await pilot.press("escape")
        assert app.screen is evaluate

        # The run already wrote a report when it ended; remove it so the
        # files below can only come from the app's export.
        for path in list(run_dir.path.glob("*.png")) + list(run_dir.path.glob("report.*")):
            path.unlink()
        await pilot.press("x")
        await settle(app, pilot)
        assert evaluate.exported, "export wrote no files"
        for path in evaluate.exported:
            assert path.is_file() and path.parent == run_dir.path
        names = {p.name for p in evaluate.exported}
        assert "report.md" in names and len([n for n in names if n.endswith(".png")]) >= 1


async def test_bad_values_show_errors_and_disable_start(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        start = screen.query_one("#start", Button)

        await set_field(pilot, screen, "hidden_size", "0")
        assert "must be >= 1 and <= 4096 (got 0)" in text_of(screen, "#error-hidden_size")
        assert start.disabled
        assert "hidden_size" in text_of(screen, "#config-status")

        await set_field(pilot, screen, "epochs", "many")
        assert "must be a whole number" in text_of(screen, "#error-epochs")
        assert "(+1 more)" in text_of(screen, "#config-status")

        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfigureScreen)
        assert not list(app.workers)
        assert not (tmp_path / "runs").exists()

        await set_field(pilot, screen, "hidden_size", "8")
        await set_field(pilot, screen, "epochs", "2")
        assert not start.disabled
        assert text_of(screen, "#error-hidden_size") == ""

        # A rule across fields (build_config) lands next to the field it names.
        await set_field(pilot, screen, "amplitude_low", "2")
        assert "must not exceed amplitude_high" in text_of(screen, "#error-amplitude_low")
        assert start.disabled
        await set_field(pilot, screen, "amplitude_low", "0.8")
        await set_field(pilot, screen, "fs", "10")
        assert "Nyquist" in text_of(screen, "#error-frequencies")
        assert start.disabled


async def test_phase_fields_follow_noise_choice(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        phase_high = screen.query_one("#field-phase_high", Input)
        assert phase_high.disabled
        screen.query_one("#field-noise").value = "informative"
        await pilot.pause()
        assert phase_high.value == f"{0.01 * 2 * 3.141592653589793:.12g}"
        screen.query_one("#field-noise").value = "custom"
        await pilot.pause()
        assert not phase_high.disabled
        await set_field(pilot, screen, "phase_high", "-1")
        assert "must be >= 0" in text_of(screen, "#error-phase_high")


async def test_save_and_load_toml(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await set_field(pilot, screen, "hidden_size", "12")
        path = tmp_path / "saved.toml"
        assert screen.save_file(str(path))
        saved = build_config(load_toml(path))
        assert saved.hidden_size == 12 and saved.epochs == 2

        bad = tmp_path / "bad.toml"
        bad.write_text("epochs = 0\nhidden_size = 5\n")
        assert screen.load_file(str(bad))
        await pilot.pause()
        assert screen.query_one("#field-hidden_size", Input).value == "5"
        assert "must be >= 1" in text_of(screen, "#error-epochs")
        assert screen.query_one("#start", Button).disabled

        assert not screen.load_file(str(tmp_path / "missing.toml"))


async def test_stop_marks_run_cancelled(tmp_path):
    app = FreqApp({**TINY, "epochs": 500}, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await pilot.press("s")  # the trainer checks the flag after each batch
        await settle(app, pilot)
        assert app.session.state == "cancelled"
        run_dir = RunDir(app.session.run_dir)
        assert run_dir.read_status()["status"] == "cancelled"
        assert len(app.session.history) < 500
        assert "CANCELLED" in text_of(app.screen, "#train-status")


async def test_training_error_shows_dialog_and_app_stays_up(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(api, "start_run", out_of_memory)
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "CUDA out of memory" in text_of(app.screen, "#error-text")
        await pilot.press("escape")
        assert isinstance(app.screen, TrainScreen)
        assert app.session.state == "failed"
        await pilot.press("f2")
        assert isinstance(app.screen, ConfigureScreen)  # still up and usable


async def test_quit_asks_while_training_and_stops_the_run(tmp_path, monkeypatch):

    def waits_for_stop(config, *, run_dir, on_event, stop, **kwargs):
        while not stop.is_set():
            time.sleep(0.01)
        training = SimpleNamespace(status=stop.reason, message="stopped")
        return SimpleNamespace(run_dir=run_dir, training=training, results=None)

    monkeypatch.setattr(api, "start_run", waits_for_stop)
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.training_active
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert app.training_active and not app.stop_flag.is_set()
        await pilot.press("ctrl+q")
        await pilot.press("y")
        assert app.stop_flag.is_set()
    assert app.return_code == 0


async def test_runs_screen_lists_and_opens_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = run_training(build_config(TINY), runs_root="runs")
    app = FreqApp(TINY, runs_root="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one("#runs", DataTable)
        assert table.row_count == 1
        row = table.get_row_at(0)
        assert row[0] == outcome.run_dir.path.name
        assert row[1] == "stateful" and row[3] == "finished" and row[4] == "2"
        assert row[5] == mse(outcome.results.scores.test_mse)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, EvaluateScreen)
        assert app.screen.evaluated.run_dir.path == outcome.run_dir.path


async def test_attach_follows_a_run_another_process_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = build_config(TINY)
    run = RunDir.create(config, "runs")
    run.write_config(config)
    run.write_status("running", started=time.time(), model="stateful")  # pid: this process, alive
    record = EpochRecord(epoch=1, train_loss=0.52, val_loss=0.51, lr=1e-3, epoch_time=0.1, is_best=True)
    run.append_metrics(record)

    app = FreqApp(TINY, runs_root="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        assert app.screen.query_one("#runs", DataTable).get_row_at(0)[3] == "running"
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TrainScreen)
        assert app.session.source == "follow" and app.session.state == "running"
        await wait_until(pilot, lambda: len(app.session.history) == 1, 5)

        run.append_metrics(dataclasses.replace(record, epoch=2, val_loss=0.50))
        await wait_until(pilot, lambda: [r.epoch for r in app.session.history] == [1, 2], 5)  # a look a second
        await wait_until(pilot, lambda: "2/2" in text_of(app.screen, "#epochs-info"), 5)

        run.write_status("finished", message="ran all 2 epochs")
        await wait_until(pilot, lambda: app.session.state == "finished", 5)
        assert app._follower is None
        assert app.session.log[-1] == "ended (finished): ran all 2 epochs"  # no results.json: nothing to evaluate


def test_stale_running_status_is_shown_as_stale(tmp_path):
    from lstm_core.runlist import summarise_run

    config = build_config(TINY)
    run = RunDir.create(config, tmp_path)
    run.write_config(config)
    run.write_status("running", started=1.0, model="stateful")
    assert summarise_run(run.path).status == "running"  # this process holds the lock
    run.release()  # as a killed writer's lock goes, whatever its pid
    assert summarise_run(run.path).status == "stale"


async def test_help_and_command_palette_actions(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert isinstance(app.screen, ConfigureScreen)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Start training", "Stop training", "Export report", "Load config", "Save config",
                "Go to Runs"} <= titles


def test_run_app_rejects_a_bad_config_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert run_app(config_path=str(missing)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.toml" in err and "not found" in err

    invalid = tmp_path / "bad.toml"
    invalid.write_text("hidden_size = 0\n")
    assert run_app(config_path=str(invalid)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.toml" in err and "hidden_size" in err


def test_followed_run_preview_comes_from_last_checkpoint(tmp_path):
    outcome = run_training(build_config(TINY), runs_root=tmp_path)
    preview = api.preview(outcome.run_dir.path)
    assert preview is not None
    assert preview.output.shape == preview.target.shape == (4, preview.t.shape[0])
    assert api.preview(tmp_path / "no-such-run") is None


async def test_unusable_run_dir_is_an_error_dialog_not_a_crash(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "something").write_text("x")
    app = FreqApp({**TINY, "run_dir": str(taken)}, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "already exists and is not empty" in text_of(app.screen, "#error-text")
        await pilot.press("escape")
        assert isinstance(app.screen, ConfigureScreen)
        assert not app.training_active


async def test_drift_chart_shows_where_and_how_fast_the_output_drifts(tmp_path):
    """An output 0.05 Hz fast drifts by 18 degrees per second: `d` shows it."""
    import numpy as np
    from pathlib import Path

    from conftest import synthetic_run_evaluation

    fs, frequencies = 100.0, np.array([2.0, 5.0])
    t = np.arange(1000) / fs
    targets = np.sin(2 * np.pi * frequencies[:, None] * t)
    predictions = np.sin(2 * np.pi * (frequencies[:, None] + 0.05) * t)
    evaluated = synthetic_run_evaluation(Path("runs/synthetic"), targets, predictions, frequencies, fs)
    evaluation = evaluated.evaluation
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("evaluate")
        await pilot.pause()
        screen = app.screen
        screen.show(evaluated)
        await pilot.pause()
        chart = screen.query_one("#spectrum-chart", LineChart)
        assert chart.shown_title.startswith("Amplitude spectrum")
        drawn = chart.draws
        footer = " ".join(b.binding.description for b in screen.active_bindings.values() if b.binding.show)
        assert "Drift" in footer
        await pilot.press("d")
        assert screen.show_drift and chart.draws == drawn + 1
        row = evaluation.drift.summary[0]
        assert row.drift_deg_per_s == pytest.approx(18.0, rel=0.05)
        assert row.output_hz == pytest.approx(2.05, abs=0.01)
        assert f"{row.drift_deg_per_s:+.1f}°/s" in chart.shown_title
        await pilot.press("f")
        assert screen.frequency_index == 1 and chart.draws == drawn + 2
        await pilot.press("d")
        assert not screen.show_drift and chart.draws == drawn + 3


async def test_runs_are_marked_with_space_and_compared_side_by_side(tmp_path, monkeypatch):
    import re
    import shutil

    from tui.screens.compare import CompareScreen

    monkeypatch.chdir(tmp_path)
    first = run_training(build_config({**TINY, "run_name": "small"}), runs_root="runs")
    second = run_training(build_config({**TINY, "run_name": "wide", "hidden_size": 12}), runs_root="runs")
    other = tmp_path / "runs" / "other-frequencies"  # a copy that says it was trained on other frequencies
    shutil.copytree(first.run_dir.path, other)
    config = (other / "config.toml").read_text()
    (other / "config.toml").write_text(re.sub(r"frequencies = \[[^\]]*\]", "frequencies = [2.0, 4.0]", config))
    app = FreqApp(TINY, runs_root="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        screen = app.screen
        table = screen.query_one("#runs", DataTable)
        assert table.row_count == 3
        footer = " ".join(b.binding.description for b in screen.active_bindings.values() if b.binding.show)
        assert "Compare" in footer and "space: mark" in text_of(screen, "#runs-status")
        await pilot.press("c")  # nothing marked: a warning, no screen
        assert app.screen is screen
        by_name = {run.path.name: i for i, run in enumerate(screen.runs)}
        # mark the two comparable runs (space marks and moves down)
        table.move_cursor(row=by_name[second.run_dir.path.name])
        await pilot.press("space")
        table.move_cursor(row=by_name[first.run_dir.path.name])
        await pilot.press("space")
        assert screen.marked == [str(second.run_dir.path), str(first.run_dir.path)]
        assert table.get_row_at(by_name[first.run_dir.path.name])[0] == f"● {first.run_dir.path.name}"
        await pilot.press("c")
        await pilot.pause()
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert [run.path for run in compare.runs] == [second.run_dir.path, first.run_dir.path]
        settings = compare.query_one("#compare-settings", DataTable)
        rows = [settings.get_row_at(i) for i in range(settings.row_count)]
        assert rows == [["hidden_size", "12", "8"], ["run_name", "wide", "small"]]
        metrics = compare.query_one("#compare-metrics", DataTable)
        metric_rows = {metrics.get_row_at(i)[0]: metrics.get_row_at(i)[1:] for i in range(metrics.row_count)}
        assert metric_rows["LSTM"] == [mse(second.results.scores.test_mse), mse(first.results.scores.test_mse)]
        assert metric_rows["verdict"] == [second.results.scores.verdict.code, first.results.scores.verdict.code]
        assert all("no generalisation test" in cell for cell in metric_rows["test/train ratio"])
        chart = compare.query_one("#compare-loss", LineChart)
        assert compare.log_y and "log y" in chart.shown_title and chart.draws == 1
        await pilot.press("l")
        assert not compare.log_y and "linear y" in chart.shown_title and chart.draws == 2
        await pilot.press("escape")
        assert app.screen is screen

        # a run of other frequencies cannot join: an error dialog, no compare screen
        table.move_cursor(row=by_name[other.name])
        await pilot.press("space")
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "same frequencies" in text_of(app.screen, "#error-text")

"""The app's error boundary, by kind: no file, folder or value it reads or
writes ends it. A data source made unreadable, out of range or truncated;
a dialog's target made unwritable; a form field given control characters;
the app's export of a run another process holds, or one with links in place
of its files. Each becomes a notice, a dialog or an inline message naming
the file, and the app (and its run) goes on.

Tests run as root in CI, where chmod 000 hides nothing: `unreadable` makes
the system refuse a folder as it refuses another user's (EACCES)."""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable

from lstm_core import cli
from lstm_core.config import build_config
from lstm_core.rundir import RESULTS, RunDir
from lstm_core.runlist import UNREADABLE, list_runs
from lstm_core.runner import run_training
from tui.app import FreqApp
from tui.screens.configure import ConfigureScreen
from tui.screens.dialogs import ErrorDialog
from tui.screens.evaluate import EvaluateScreen
from tui.screens.runs import RunsScreen
from tui.screens.train import TrainScreen

from test_hangup import wait_until
from test_links import Outside
from test_tui_app import TINY, settle, set_field, text_of


@pytest.fixture
def unreadable(monkeypatch):
    """unreadable(path): from now on the system refuses `path` as a folder
    of another user's with mode 0700: its own stat works, listing it or
    anything inside fails with EACCES."""
    hidden: list[str] = []
    real = {name: getattr(os, name) for name in ("open", "stat", "listdir", "scandir", "lstat")}

    def refused(path, inside_only: bool) -> bool:
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:  # a file descriptor
            return False
        text = os.path.abspath(text)
        return any(text.startswith(h + os.sep) or (not inside_only and text == h) for h in hidden)

    def guard(name, inside_only):
        def call(path=".", *args, **kwargs):
            if refused(path, inside_only):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real[name](path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "open", guard("open", False))
    monkeypatch.setattr(os, "listdir", guard("listdir", False))
    monkeypatch.setattr(os, "scandir", guard("scandir", False))
    monkeypatch.setattr(os, "stat", guard("stat", True))
    monkeypatch.setattr(os, "lstat", guard("lstat", True))
    return lambda path: hidden.append(os.path.abspath(path))


def fake_run(root: Path, name: str, *, status: dict | None = None, metrics: str | None = None) -> Path:
    config = build_config({**TINY, "run_dir": str(root / name)})
    run = RunDir.create(config, root)
    run.release()
    if status is not None:
        (run.path / "status.json").write_text(status if isinstance(status, str) else __import__("json").dumps(status))
    if metrics is not None:
        (run.path / "metrics.jsonl").write_text(metrics)
    return run.path


INFINITE = ('{"epoch": 1, "train_loss": Infinity, "val_loss": 0.5, "lr": 0.001, "epoch_time": 0.1, "is_best": true}\n'
            '{"epoch": 2, "train_loss": 0.4, "val_loss": NaN, "lr": 0.001, "epoch_time": Infinity}\n'
            '{"epoch": 3, "train_lo')  # killed mid-line


def test_runs_lists_unreadable_runs_and_unknown_values(tmp_path, unreadable, capsys):
    root = tmp_path / "runs"
    hidden = fake_run(root, "hidden")
    fake_run(root, "far-future", status={"status": "finished", "started": 1e300, "test_mse": float("inf")})
    fake_run(root, "infinite", metrics=INFINITE, status={"status": "failed", "started": float("nan")})
    unreadable(hidden)
    runs = {run.path.name: run for run in list_runs(root)}
    assert runs["hidden"].status == UNREADABLE and "Permission denied" in runs["hidden"].reason
    assert runs["far-future"].started is None and runs["far-future"].test_mse is None
    assert [r.epoch for r in RunDir(root / "infinite").read_metrics()] == [1, 2]  # the cut line is left out
    assert cli.main(["runs", "--runs-root", str(root)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["hidden"].split()[3] == "unreadable" and "Permission denied" in lines["hidden:"]
    assert lines["far-future"].rstrip().endswith("unknown") and lines["far-future"].split()[6] == "-"
    assert cli.main(["runs", "--runs-root", str(root), "--json"]) == 0
    assert '"status": "unreadable"' in capsys.readouterr().out

    unreadable(root)
    assert cli.main(["runs", "--runs-root", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"freq-tui: error: {root}: cannot read runs directory (Permission denied)"


def test_out_of_range_times_read_unknown(tmp_path):
    from lstm_core.runlist import summarise_run, time_text

    assert time_text(1e300) == time_text(float("nan")) == time_text(None) == "unknown"
    run = fake_run(tmp_path, "r", status={"status": "finished", "started": -1e300})
    assert summarise_run(run).started is None
    run = fake_run(tmp_path, "s", status={"status": "finished"})  # none recorded: the folder's time
    assert summarise_run(run).started == pytest.approx(os.stat(run).st_mtime)


async def test_runs_screen_survives_unreadable_runs_and_folders(tmp_path, unreadable):
    root = tmp_path / "runs"
    hidden = fake_run(root, "hidden")
    fake_run(root, "far-future", status={"status": "finished", "started": 1e300})
    fake_run(root, "infinite", metrics=INFINITE)
    unreadable(hidden)
    app = FreqApp(TINY, runs_root=root)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one("#runs", DataTable)
        rows = {table.get_row_at(i)[0]: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["hidden"][3] == UNREADABLE
        for key in ("o", "a", "R"):  # open, attach and resume the unreadable run: a dialog each, the app goes on
            table.move_cursor(row=[r.path.name for r in screen.runs].index("hidden"))
            await pilot.press(key)
            await settle(app, pilot)
            assert isinstance(app.screen, ErrorDialog), key
            assert str(hidden) in text_of(app.screen, "#error-text")
            await pilot.press("escape")
            await pilot.press("f5")

        unreadable(root)
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ErrorDialog), text_of(app.screen, "#error-text")
        assert app.is_running and "cannot read runs directory" in text_of(app.screen, "#runs-status")


async def test_attach_to_a_run_with_infinities_and_a_truncated_line(tmp_path):
    root = tmp_path / "runs"
    config = build_config({**TINY, "epochs": 5})
    run = RunDir.create(config, root)  # held by this process: a live run
    run.write_status("running", started=time.time(), model="stateful")
    (run.path / "metrics.jsonl").write_text(INFINITE)
    app = FreqApp(TINY, runs_root=root)
    async with app.run_test(size=(100, 30)) as pilot:
        app.follow_run(str(run.path))
        await pilot.pause()
        assert isinstance(app.screen, TrainScreen)
        await wait_until(pilot, lambda: len(app.session.history) == 2, 10)
        await pilot.pause()
        run.write_status("failed", message="stopped by the test")
        await wait_until(pilot, lambda: app.session.state == "failed", 10)
        assert app.is_running
    run.release()


async def test_save_config_to_an_unwritable_path_is_a_notice(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)):
        screen = app.screen
        assert isinstance(screen, ConfigureScreen)
        notices = []
        screen.notify = lambda message, **kwargs: notices.append(message)  # what the user reads
        for target in (blocker / "config.toml", tmp_path / "missing" / "dir" / "config.toml", tmp_path):
            assert not screen.save_file(str(target))
            assert notices[-1].startswith(str(target)) and "\n" not in notices[-1], notices[-1]
        assert not screen.load_file(str(tmp_path))
        assert notices[-1].startswith(str(tmp_path))
        assert app.is_running and app.screen is screen


@pytest.mark.parametrize("field, value", [
    ("run_name", "name\x1b[2Jwiped"), ("run_name", "a\x9bb"), ("run_name", "del\x7f"), ("device", "cpu\x00"),
    ("epochs", "5\x1b"), ("lr", "0.001\x07"), ("frequencies", "1,3\x1b[0m,5"),
])
async def test_control_characters_in_a_form_field_are_invalid(field, value, tmp_path):
    from lstm_core.config import parse_value
    from lstm_core.errors import ConfigError

    with pytest.raises(ConfigError, match="control characters"):  # the one rule, in config.py
        parse_value(field, value)
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await set_field(pilot, screen, field, value)
        assert "control characters" in text_of(screen, f"#error-{field}")
        assert screen.query_one("#start", Button).disabled
        assert "\x1b" not in text_of(screen, f"#error-{field}")


@pytest.fixture
def no_report(monkeypatch):
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


async def test_export_is_refused_while_another_process_holds_the_run(tmp_path, no_report):
    run = run_training(build_config(TINY), runs_root=tmp_path / "runs").run_dir
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_evaluation(str(run.path))
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, EvaluateScreen) and screen.evaluated is not None
        holder = RunDir(run.path).acquire()  # a resume elsewhere, at work
        holder.write_status("running")
        before = (run.path / RESULTS).read_bytes()
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert f"the run is still training, by pid {os.getpid()}" in text_of(app.screen, "#error-text")
        assert (run.path / RESULTS).read_bytes() == before
        await pilot.press("escape")
        holder.write_status("interrupted")
        holder.release()

        outside = Outside(tmp_path / "outside")  # links in place of what the export writes
        names = [RESULTS, "report.md", "report.html", "training_curves.png", "phase_drift.png"]
        outside.plant(run.path, names)
        await pilot.press("x")
        await settle(app, pilot)
        assert app.screen is screen and screen.exported
        outside.assert_untouched()
        assert all(not (run.path / name).is_symlink() for name in names)

"""Runs that outlive their terminal: the app hung up mid-run (a real
pseudo-terminal closed under it, as an SSH drop does), a nohup'd headless
run, a killed writer shown as stale everywhere, and resume from the app."""
import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bench.tui_bench import TerminalApp
from lstm_core import cli
from lstm_core.config import build_config, save_toml
from lstm_core.rundir import RunDir
from lstm_core.status import STALE_TEXT, RunStatus
from lstm_core.runner import resume_training, run_training
from tui.app import FreqApp

from test_interrupt_resume import SLOW_TINY, run_files, wait_for

fork = multiprocessing.get_context("fork") if sys.platform != "win32" else None
SLOW = dict(duration=2.0, fs=100.0, frequencies=[2.0, 5.0], hidden_size=8, batch_size=8, device="cpu",
            noise="informative", epochs=12)  # SLOW_TINY's settings
LONGER = {**SLOW, "epochs": 40}  # a few seconds of training in the app


@pytest.fixture
def no_report(monkeypatch):
    """Runs trained in this process skip the report (seconds of matplotlib)."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


def hang_up_the_app_mid_run(tmp_path: Path, controlling_terminal: bool = True, **settings) -> Path:
    """Start training in the app in a pty, close the pty after epoch 1;
    the process must end by itself. Returns the run directory."""
    save_toml(build_config({**LONGER, **settings}), tmp_path / "run.toml")
    app = TerminalApp(tmp_path / "run.toml", tmp_path, controlling_terminal)
    try:
        app.wait_for("Ready:", timeout=60)
        app.send(b"\x12")  # ctrl+r: start
        runs = tmp_path / "runs"
        wait_for(lambda: runs.is_dir() and any(len(RunDir(p).read_metrics()) >= 1 for p in runs.iterdir()),
                 lambda: app.proc.poll() is None)
        (run,) = runs.iterdir()
        app.hang_up()
        at_hangup = len(RunDir(run).read_metrics())
        app.proc.wait(timeout=180)
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
    assert app.proc.returncode == 0
    assert at_hangup < LONGER["epochs"] - 2, "the hang-up came too late to mean anything"
    return run


@pytest.mark.parametrize("sighup", [True, False], ids=["sighup", "writes-fail"])
def test_the_app_hung_up_while_training_finishes_the_run_and_exits(sighup, tmp_path):
    """With a SIGHUP (the pty is its controlling terminal), or with only
    its reads and writes failing (it is not, so no SIGHUP reaches it)."""
    run = hang_up_the_app_mid_run(tmp_path, controlling_terminal=sighup)
    status = RunDir(run).read_status()
    assert status["status"] == "finished", status
    assert len(RunDir(run).read_metrics()) == LONGER["epochs"]
    assert RunDir(run).read_results().training.epochs_run == LONGER["epochs"]
    assert (run / "report.html").is_file() and (run / "report.md").is_file()
    assert not RunDir(run).is_active()


def test_on_hangup_stop_marks_the_run_interrupted_and_it_resumes_exactly(tmp_path, no_report):
    run = hang_up_the_app_mid_run(tmp_path, on_hangup="stop")
    assert RunDir(run).read_status()["status"] == "interrupted"
    kept = len(RunDir(run).read_metrics())
    assert 1 <= kept < LONGER["epochs"]
    reference = run_training(build_config({**LONGER, "on_hangup": "stop"}), runs_root=tmp_path / "reference")
    assert resume_training(run).training.status == "finished"
    assert run_files(run) == run_files(reference.run_dir.path)


def headless_child(argv, ignore_hangup, epoch_pause_s=0.0):
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if ignore_hangup:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does before it starts the command
    if epoch_pause_s:  # a slower writer, the same numbers: time to attach to it before it is killed
        append = RunDir.append_metrics
        RunDir.append_metrics = lambda self, record: (append(self, record), time.sleep(epoch_pause_s))[0]
    sys.exit(cli.main(argv))


@pytest.mark.skipif(fork is None, reason="needs fork")
@pytest.mark.parametrize("ignored, on_hangup", [(True, "stop"), (False, "continue")], ids=["nohup", "continue"])
def test_a_headless_run_goes_on_after_a_hangup(ignored, on_hangup, tmp_path, no_report):
    """nohup'd, SIGHUP stays ignored even with on_hangup = stop; without
    nohup, the default (continue) also trains to the end."""
    run = tmp_path / "run"
    child = fork.Process(target=headless_child, args=(
        ["train", *SLOW_TINY, "--on-hangup", on_hangup, "--run-dir", str(run)], ignored))
    child.start()
    wait_for(lambda: len(RunDir(run).read_metrics()) >= 1, child.is_alive)
    os.kill(child.pid, signal.SIGHUP)
    child.join(timeout=180)
    assert child.exitcode == 0
    assert RunDir(run).read_status()["status"] == "finished"
    assert len(RunDir(run).read_metrics()) == 12


def rows_of(app) -> list[list[str]]:
    table = app.screen.query_one("#runs")
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def wait_until(pilot, condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:g} s"
        await pilot.pause(0.1)


@pytest.mark.skipif(fork is None, reason="needs fork")
async def test_a_killed_run_is_stale_everywhere_and_resumes_from_the_runs_screen(tmp_path, no_report, capsys,
                                                                                monkeypatch):
    root = tmp_path / "runs"
    reference = run_training(build_config(SLOW), runs_root=tmp_path / "reference").run_dir.path
    run = root / "killed"
    child = fork.Process(target=headless_child, args=(["train", *SLOW_TINY, "--run-dir", str(run)], False, 0.5))
    child.start()
    wait_for(lambda: len(RunDir(run).read_metrics()) >= 1, child.is_alive)

    app = FreqApp({}, runs_root=root)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f5")
        assert rows_of(app)[0][3] == "running"
        await pilot.press("a")  # attach while the writer lives...
        assert app.session.source == "follow" and app.session.state == "running"
        os.kill(child.pid, signal.SIGKILL)  # ...and dies mid-way
        child.join()
        await wait_until(pilot, lambda: app.session.state == RunStatus.STALE, 5)
        status = str(app.screen.query_one("#train-status").render())
        assert "STALE: process gone" in status and f"freq-tui train --resume {run}" in status
        await pilot.press("f5")
        assert rows_of(app)[0][3] == STALE_TEXT
        shown = {b.binding.key: b.binding.description for b in app.screen.active_bindings.values() if b.binding.show}
        assert shown.get("R") == "Resume"  # in the footer

    # Outside the app (Textual holds stdout while it runs): the listing and the report say it too.
    assert cli.main(["runs", "--runs-root", str(root)]) == 0
    listing = capsys.readouterr().out
    assert STALE_TEXT in listing and f"freq-tui train --resume {run}" in listing
    assert cli.main(["runs", "--json", "--runs-root", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == RunStatus.STALE
    monkeypatch.setattr("lstm_core.report.export_report", lambda *args: [run / "report.md", run / "report.html"])
    assert cli.main(["report", str(run)]) == 0
    assert f"Run status: {STALE_TEXT}" in " ".join(capsys.readouterr().out.split())

    killed_at = len(RunDir(run).read_metrics())
    app = FreqApp({}, runs_root=root)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f5")
        await pilot.press("R")
        await wait_until(pilot, lambda: app.session.state == "finished", 180)
        status = str(app.screen.query_one("#train-status").render())
        assert app.session.resumed and f"resumed from epoch {app.session.start_epoch - 1}" in status
        # last.pt is written before the epoch's metrics line: a kill between the
        # two resumes from last.pt, one epoch past the lines on disk
        assert 0 <= app.session.start_epoch - 1 <= killed_at + 1
    assert run_files(run) == run_files(reference)


async def test_the_palette_resumes_the_stopped_run_on_the_train_screen(tmp_path, tiny_config, no_report):
    from lstm_core.trainer import StopFlag
    from test_interrupt_resume import stop_after_epoch

    stop = StopFlag()
    run = run_training(tiny_config(epochs=3), runs_root=tmp_path, stop=stop, on_event=stop_after_epoch(1, stop)).run_dir
    app = FreqApp({}, runs_root=tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        app.follow_run(str(run.path))  # an interrupted run on the Train screen
        await pilot.pause()
        assert app.session.state == "interrupted"
        await pilot.press("ctrl+p")
        await pilot.press(*"Resume run")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.state == "finished", 60)
        assert app.session.resumed and app.session.start_epoch == 2
    assert RunDir(run.path).read_results().training.epochs_run == 3

"""One writer at a time: report, the app's export, evaluate and resume take
the run's lock or refuse in one line, so a results.json or report never
contradicts the status.json beside it. Each interleaving is forced at the
point where the two race (threading.Event), never by sleeping."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lstm_core import cli, report, runner
from lstm_core.errors import UserError
from lstm_core.events import EpochEnd
from lstm_core.rundir import RESULTS, RunDir
from lstm_core.runner import resume_training, run_training
from lstm_core.trainer import StopFlag

WAIT = 120  # seconds a forced order may take on a busy machine before the test fails instead of hanging


class Paused:
    """Wraps `function` so that its first call stops at the race point
    until `go` is set (`reached` says it got there)."""

    def __init__(self, function):
        self.function, self.reached, self.go, self.calls = function, threading.Event(), threading.Event(), 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            self.reached.set()
            assert self.go.wait(WAIT)
        return self.function(*args, **kwargs)


class Background(threading.Thread):
    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None

    def run(self):
        try:
            self.result = self.work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def finish(self):
        self.join(WAIT)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


def refused(capsys, argv, text):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("freq-tui: error: ") and text in err and "\n" not in err, err


def consistent(run: Path):
    """results.json and the report say what status.json and metrics.jsonl say."""
    run_dir = RunDir(run)
    status, results = run_dir.read_status(), run_dir.read_results()
    assert results is not None and results.training.status == status["status"]
    assert results.training.epochs_run == run_dir.read_metrics()[-1].epoch
    assert f"| status | {status['status']} |" in (run / "report.md").read_text()


def interrupted(tiny_config, root, epochs=2) -> Path:
    stop = StopFlag()
    on_event = lambda event: isinstance(event, EpochEnd) and stop.request("interrupted")  # noqa: E731
    return run_training(tiny_config(epochs=epochs), runs_root=root, on_event=on_event, stop=stop).run_dir.path


def test_report_at_the_end_of_training_is_refused_then_matches(tiny_config, tmp_path, capsys, monkeypatch):
    """The race of the bug: `report` while training writes its last files."""
    paused = Paused(runner.export_report)
    monkeypatch.setattr(runner, "export_report", paused)  # between results.json and the final status
    training = Background(lambda: run_training(tiny_config(epochs=2), runs_root=tmp_path / "runs"))
    training.start()
    assert paused.reached.wait(WAIT)
    run = next((tmp_path / "runs").iterdir())
    before = (run / RESULTS).read_bytes()
    refused(capsys, ["report", str(run)], f"the run is still training, by pid {os.getpid()}")
    assert (run / RESULTS).read_bytes() == before
    paused.go.set()
    assert training.finish().training.status == "finished"
    assert cli.main(["report", str(run)]) == 0
    consistent(run)


def test_report_and_resume_exclude_each_other(tiny_config, tmp_path, capsys, monkeypatch):
    run = interrupted(tiny_config, tmp_path / "runs")
    # a report at work: a resume is refused
    paused = Paused(report.export_run)
    monkeypatch.setattr(report, "export_run", paused)
    reporting = Background(lambda: report.report_run(run))
    reporting.start()
    assert paused.reached.wait(WAIT)
    with pytest.raises(UserError, match="being written by another freq-tui process"):
        resume_training(run)
    paused.go.set()
    reporting.finish()
    # a resume at work: a report is refused
    at_epoch, go = threading.Event(), threading.Event()

    def hold(event):
        if isinstance(event, EpochEnd) and not at_epoch.is_set():
            at_epoch.set()
            assert go.wait(WAIT)

    resuming = Background(lambda: resume_training(run, on_event=hold))
    resuming.start()
    assert at_epoch.wait(WAIT)
    refused(capsys, ["report", str(run)], f"the run is still training, by pid {os.getpid()}")
    go.set()
    assert resuming.finish().training.status == "finished"
    consistent(run)


@pytest.mark.parametrize("first", ["report", "export"])
def test_two_writers_of_a_report(first, tiny_config, tmp_path, capsys, monkeypatch):
    """Two reports, or the app's export and a report: the second is refused
    and the first writes what it evaluated."""
    run = run_training(tiny_config(epochs=1), runs_root=tmp_path / "runs").run_dir.path
    paused = Paused(report.export_run)
    monkeypatch.setattr(report, "export_run", paused)
    writing = Background(lambda: report.report_run(run, first))
    writing.start()
    assert paused.reached.wait(WAIT)
    before = (run / RESULTS).read_bytes()
    refused(capsys, ["report", str(run)], "its results or report are being written by another freq-tui process")
    assert (run / RESULTS).read_bytes() == before
    paused.go.set()
    evaluated, paths = writing.finish()
    assert paths and all(p.is_file() for p in paths)
    consistent(run)

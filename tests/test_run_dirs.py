"""Run directories: names that never leave the runs folder, and runs started
at the same moment (threads or processes) that never share a directory."""
import multiprocessing
import re
import sys
import threading
from pathlib import Path

import pytest

from lstm_core import cli
from lstm_core.config import build_config
from lstm_core.errors import UserError
from lstm_core.rundir import RunDir

FROZEN = "20260101-000000"


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every run 'starts' in the same second, so every one wants the same name."""
    monkeypatch.setattr("lstm_core.rundir.time.strftime", lambda fmt, *args: FROZEN)


@pytest.mark.parametrize("run_name", [
    "../../escaped", "/etc/passwd", "..", ".", "a/b\\c", "~root", "$(touch x)", "naïve name", "x" * 500, "-",
    "..\\..\\win", "name\twith\ttabs".replace("\t", " "),
])
def test_run_names_never_leave_the_runs_folder(run_name, tmp_path):
    root = tmp_path / "runs"
    run = RunDir.create(build_config({"run_name": run_name}), root)
    run.release()
    assert run.path.parent == root and run.path.resolve().parent == root.resolve()
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run.path.name) and len(run.path.name) <= 100
    assert (run.path / "config.toml").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]


def test_run_name_flag_through_the_cli(tmp_path, monkeypatch, frozen_clock):
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])
    assert cli.main(["train", "--duration", "0.3", "--fs", "100", "--frequencies", "2,5", "--epochs", "1",
                     "--hidden-size", "4", "--device", "cpu", "--run-name", "../../../out side",
                     "--runs-root", str(tmp_path / "runs")]) == 0
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [f"{FROZEN}-stateful-out-side"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_threads_starting_at_the_same_moment_get_their_own_directories(tmp_path, frozen_clock):
    n = 16
    barrier = threading.Barrier(n)
    made, errors = [], []
    config = build_config({})

    def start():
        barrier.wait()
        try:
            made.append(RunDir.create(config, tmp_path / "runs"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    paths = {run.path for run in made}
    assert len(paths) == n
    assert {p.name for p in paths} == {f"{FROZEN}-stateful"} | {f"{FROZEN}-stateful-{k}" for k in range(2, n + 1)}
    for run in made:
        assert run.is_active()  # each holds its own lock
        run.release()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(p.name for p in paths)  # no leftovers


def create_in_child(root, barrier, queue):
    import lstm_core.rundir as rundir

    rundir.time.strftime = lambda fmt, *args: FROZEN
    barrier.wait()
    try:
        run = RunDir.create(build_config({}), root)
        queue.put(str(run.path))
    except Exception as exc:
        queue.put(f"error: {exc}")


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork")
def test_processes_starting_at_the_same_moment_get_their_own_directories(tmp_path):
    ctx = multiprocessing.get_context("fork")
    n = 6
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=create_in_child, args=(tmp_path / "runs", barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in range(n)]
    for p in procs:
        p.join()
    assert not [r for r in results if r.startswith("error")], results
    assert len(set(results)) == n
    assert all(Path(r).parent == tmp_path / "runs" and (Path(r) / "config.toml").is_file() for r in results)


def test_one_explicit_run_dir_wanted_by_many_at_once_goes_to_exactly_one(tmp_path):
    n = 12
    target = tmp_path / "shared"
    barrier = threading.Barrier(n)
    won, refused = [], []

    def start(i):
        config = build_config({"run_dir": str(target), "seed": i})
        barrier.wait()
        try:
            won.append((i, RunDir.create(config, tmp_path)))
        except UserError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=start, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == n - 1
    assert all(("not empty" in r or "just taken" in r) and r.startswith(str(target)) for r in refused)
    winner, run = won[0]
    assert build_config({}) != run.read_config() and run.read_config().seed == winner  # the winner's config
    run.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]  # no staging folders left


def test_an_empty_existing_directory_may_be_used_once(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    run = RunDir.create(build_config({"run_dir": str(target)}))
    run.release()
    assert (target / "config.toml").is_file()
    with pytest.raises(UserError, match="already exists and is not empty"):
        RunDir.create(build_config({"run_dir": str(target)}))

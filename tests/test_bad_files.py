"""Damaged, foreign or hostile files, missing or unwritable folders and a
full disk: a one-line error naming the file, nothing that existed changed,
nothing ever unpickled."""
import errno
import io
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core import cli
from lstm_core.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from lstm_core.data import generate
from lstm_core.errors import UserError
from lstm_core.files import atomic_write_text
from lstm_core.models import build_model
from lstm_core.runner import resume_training, run_training
from lstm_core.trainer import StopFlag
from conftest import run_numbers

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--batch-size", "16",
        "--device", "cpu", "--noise", "informative"]


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    """Runs here skip drawing the report (seconds of matplotlib per run)."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


class Bomb:
    """Unpickling this runs `touch MARKER`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def one_line(exc: UserError, path: Path) -> str:
    text = str(exc)
    assert "\n" not in text and text.startswith(str(path)), text
    return text


def interrupted_run(tiny_config, tmp_path, epochs=3, stop_at=1) -> Path:
    from lstm_core.events import EpochEnd

    stop = StopFlag()

    def on_event(event):
        if isinstance(event, EpochEnd) and event.record.epoch == stop_at:
            stop.request("interrupted")

    return run_training(tiny_config(epochs=epochs), runs_root=tmp_path / "runs", stop=stop,
                        on_event=on_event).run_dir.path


# ---- checkpoints ---------------------------------------------------------------
def good_checkpoint(tiny_config, path: Path) -> bytes:
    config = tiny_config()
    save_checkpoint(path, model=build_model(config, 2), config=config, n_frequencies=2, epoch=1)
    return path.read_bytes()


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind, reason", [
    ("empty", "not a readable checkpoint"),
    ("garbage", "not a readable checkpoint"),
    ("truncated", "not a readable checkpoint"),
    ("text", "not a readable checkpoint"),
    ("npz", "not a readable checkpoint"),
    ("state_dict", "not a freq-lstm checkpoint"),
    ("tensor", "not a freq-lstm checkpoint"),
    ("no_weights", "damaged freq-lstm checkpoint"),
    ("weights_not_tensors", "damaged freq-lstm checkpoint"),
])
def test_bad_checkpoints_are_refused_naming_the_file(kind, reason, tiny_config, tmp_path):
    good = good_checkpoint(tiny_config, tmp_path / "good.pt")
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    content = {
        "empty": b"",
        "garbage": os.urandom(4096),
        "truncated": good[: len(good) // 2],
        "text": b"epochs = 3\n",
        "npz": _npz_bytes(tmp_path),
        "state_dict": torch_bytes(build_model(tiny_config(), 2).state_dict()),
        "tensor": torch_bytes(torch.zeros(3)),
        "no_weights": torch_bytes({k: v for k, v in payload.items() if k != "model_state"}),
        "weights_not_tensors": torch_bytes({**payload, "model_state": {"lstm.weight_ih_l0": [1.0, 2.0]}}),
    }[kind]
    path = tmp_path / f"{kind}.pt"
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    assert reason in one_line(info.value, path)
    assert path.read_bytes() == content


def _npz_bytes(tmp_path: Path) -> bytes:
    signal = generate([2.0], fs=100, duration=0.1)
    np.savez(tmp_path / "data.npz", S=signal.S, targets=signal.targets)
    return (tmp_path / "data.npz").read_bytes()


def test_a_pickle_bomb_checkpoint_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "exploded"
    bomb = tmp_path / "bomb.pt"
    torch.save({"format": "freq-lstm-checkpoint", "config": Bomb(marker)}, bomb)
    with pytest.raises(UserError) as info:
        load_checkpoint(bomb)
    assert "refused (never unpickled)" in one_line(info.value, bomb)
    assert not marker.exists()
    # The bomb is live: the unsafe load this project never does would run it.
    torch.load(bomb, weights_only=False)
    assert marker.exists()


def test_a_pickle_bomb_via_the_cli_is_refused(tmp_path, capsys):
    marker = tmp_path / "exploded"
    bomb = tmp_path / "bomb.pt"
    torch.save(Bomb(marker), bomb)
    assert cli.main(["evaluate", str(bomb), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bomb) in err[0] and "never unpickled" in err[0]
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_weights_that_do_not_fit_the_architecture(tiny_config, tmp_path):
    path = tmp_path / "mismatch.pt"
    small, big = tiny_config(hidden_size=8), tiny_config(hidden_size=16)
    save_checkpoint(path, model=build_model(big, 2), config=small, n_frequencies=2, epoch=1)
    with pytest.raises(UserError) as info:
        model_from_checkpoint(path)
    assert "weights do not match the architecture" in one_line(info.value, path)


def test_resume_refuses_a_last_pt_that_does_not_match_config_toml(tiny_config, tmp_path, capsys):
    run = interrupted_run(tiny_config, tmp_path)
    config_text = (run / "config.toml").read_text().replace("hidden_size = 8", "hidden_size = 16")
    (run / "config.toml").write_text(config_text)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert cli.main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"freq-tui: error: {run / 'last.pt'}: architecture does not match {run / 'config.toml'} "
                   f"(hidden_size 8 vs 16)"]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_resume_with_a_damaged_last_pt_names_it_and_changes_nothing(damage, tiny_config, tmp_path, capsys):
    run = interrupted_run(tiny_config, tmp_path)
    last = run / "last.pt"
    if damage == "truncate":
        last.write_bytes(last.read_bytes()[:1000])
    elif damage == "garbage":
        last.write_bytes(os.urandom(2000))
    else:
        last.write_bytes(torch_bytes(build_model(tiny_config(), 2).state_dict()))
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert cli.main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"freq-tui: error: {last}: ")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_report_of_a_run_with_a_damaged_best_pt(tiny_config, tmp_path, capsys):
    run = interrupted_run(tiny_config, tmp_path)
    (run / "best.pt").write_bytes(b"\x00" * 100)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert cli.main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"freq-tui: error: {run / 'best.pt'}: ")
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


# ---- folders and the disk ----------------------------------------------------------------
def test_unwritable_output_folders_exit_2_naming_them(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["train", *TINY, "--runs-root", str(blocker / "runs")]) == 2
    assert capsys.readouterr().err.strip() == \
        f"freq-tui: error: {blocker / 'runs'}: cannot create runs directory (Not a directory)"
    assert cli.main(["train", *TINY, "--run-dir", str(blocker / "run")]) == 2
    assert capsys.readouterr().err.strip() == f"freq-tui: error: {blocker}: cannot create folder (File exists)"
    assert blocker.read_text() == "not a folder"

    # No write permission (simulated: tests may run as root, who may write anywhere).
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("lstm_core.rundir.tempfile.mkdtemp", refuse)
    assert cli.main(["train", *TINY, "--runs-root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(rf"freq-tui: error: {re.escape(str(tmp_path / 'runs'))}/\S+: "
                                      r"cannot create run directory \(Permission denied\)$", err[0])
    assert list((tmp_path / "runs").iterdir()) == []


def fsync_fails_for(monkeypatch, name: str, on_call: int):
    """Make the `on_call`-th write of `name` hit a full disk (Linux: the file
    an fd points at is read from /proc)."""
    real_fsync, calls = os.fsync, {"n": 0}

    def fsync(fd):
        if f".{name}." in os.readlink(f"/proc/self/fd/{fd}"):
            calls["n"] += 1
            if calls["n"] == on_call:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_full_disk_mid_run_keeps_the_last_checkpoint_and_resumes(tiny_config, tmp_path, capsys, monkeypatch):
    reference = run_training(tiny_config(epochs=3), runs_root=tmp_path / "reference").run_dir.path
    run = tmp_path / "run"
    fsync_fails_for(monkeypatch, "last.pt", on_call=2)  # the disk fills while epoch 2 is saved
    assert cli.main(["train", *TINY, "--epochs", "3", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"freq-tui: error: {run / 'last.pt'}: cannot write (No space left on device); "
                   "the previous version, if any, is unchanged"]
    assert load_checkpoint(run / "last.pt")["epoch"] == 1  # the epoch-1 file, whole
    assert not list(run.glob(".*.tmp"))
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
    monkeypatch.undo()  # space freed: the run resumes and ends as if nothing happened
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])
    assert resume_training(run).training.status == "finished"

    assert run_numbers(run) == run_numbers(reference)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old")
    os.chmod(path, 0o640)
    fsync_fails_for(monkeypatch, "results.json", on_call=1)
    with pytest.raises(UserError) as info:
        atomic_write_text(path, "new")
    assert one_line(info.value, path).endswith("cannot write (No space left on device); "
                                               "the previous version, if any, is unchanged")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]
    monkeypatch.undo()
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(os.stat(path).st_mode) == 0o640  # mode kept
    atomic_write_text(tmp_path / "fresh.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "fresh.txt").st_mode) == 0o666 & ~umask  # not mkstemp's 0600


# ---- nothing is ever unpickled -------------------------------------------------------------
def call_text(source: str, start: int) -> str:
    depth = 0
    for i in range(start, len(source)):
        depth += {"(": 1, ")": -1}.get(source[i], 0)
        if depth == 0 and source[i] == ")":
            return source[start : i + 1]
    return source[start:]


def test_no_code_path_can_unpickle():
    forbidden = re.compile(r"pickle\.loads?\(|allow_pickle\s*=\s*True|weights_only\s*=\s*False|"
                           r"import (dill|joblib|shelve|cloudpickle)|yaml\.load\(|marshal\.loads?\(")
    sources = [p for folder in ("lstm_core", "tui", "bench", "scripts") for p in (ROOT / folder).rglob("*.py")]
    assert sources
    for path in sources:
        text = path.read_text()
        assert not forbidden.search(text), path
        for match in re.finditer(r"torch\.load\(", text):
            assert "weights_only=True" in call_text(text, match.end() - 1), path
        for match in re.finditer(r"np\.load\(|numpy\.load\(", text):
            assert "allow_pickle=False" in call_text(text, match.end() - 1), path


def test_out_of_memory_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    def no_memory(self):
        raise MemoryError

    monkeypatch.setattr("lstm_core.trainer.Trainer.fit", no_memory)
    assert cli.main(["train", *TINY, "--run-dir", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "freq-tui: error: out of memory (try a smaller hidden_size, batch_size or duration)"]
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "failed"


def test_any_refused_file_operation_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    """A safety net in cli.main for file errors no check named in advance."""
    def refused(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "somewhere"))

    monkeypatch.setattr("lstm_core.trainer.Trainer.fit", refused)
    assert cli.main(["train", *TINY, "--run-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"freq-tui: error: {tmp_path / 'somewhere'}: Permission denied"]

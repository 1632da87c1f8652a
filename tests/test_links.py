"""Nothing is written through a link: a symbolic link (to a file or to
nothing) or a hard link in the place of any file the product writes is
replaced by a new file or refused by name, and the file outside stays byte
for byte what it was. By command: train, resume, report, evaluate, extract,
compare, sweep, repeats (the app's export: test_app_errors.py)."""
from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from lstm_core import cli
from lstm_core.audio import extract_audio
from lstm_core.compare import COMPARE_HTML, COMPARE_MD, LOSS_PNG, PER_FREQUENCY_PNG
from lstm_core.errors import UserError
from lstm_core.events import EpochEnd
from lstm_core.figures import NAMES as FIGURES
from lstm_core.parallel import JobReport
from lstm_core.files import append_text, atomic_write_text, ensure_folder, open_own_file
from lstm_core.repeats import SUMMARY_JSON, SUMMARY_MD, SeedOutcome, run_repeats
from lstm_core.report import REPORT_HTML, REPORT_MD
from lstm_core.rundir import BEST, LAST, LOCK, METRICS, RESULTS, STATUS, RunDir
from lstm_core.runner import resume_training, run_training
from lstm_core.sweep import run_sweep, sweep_configs
from lstm_core.trainer import StopFlag

RUN_FILES = (STATUS, METRICS, BEST, LAST, RESULTS, REPORT_MD, REPORT_HTML, *FIGURES)
KINDS = ("symlink", "hardlink")
MIXED = "mixed"  # one run, every kind: symbolic links to a file and to nothing, hard links


class Outside:
    """Files outside the run directory that links in it point to."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.files: dict[Path, bytes] = {}
        self.missing: list[Path] = []

    def plant(self, where: Path, names, kind: str = MIXED) -> None:
        """A link of `kind` in place of each name in `where` (MIXED: in
        turn a symbolic link to a file, one to a file that does not exist
        and must stay so, and a hard link)."""
        for i, name in enumerate(names):
            place = where / name
            if place.is_symlink() or place.exists():
                place.unlink()
            target = self.folder / f"{where.name}-{name}"
            if kind == MIXED:
                kind_here = ("symlink", "dangling", "hardlink")[i % 3]
            else:
                kind_here = kind
            if kind_here == "dangling":
                self.missing.append(target)
                place.symlink_to(target)
                continue
            data = f"outside file for {name}\n".encode()
            target.write_bytes(data)
            self.files[target] = data
            if kind_here == "symlink":
                place.symlink_to(target)
            else:
                os.link(target, place)

    def assert_untouched(self) -> None:
        for path, data in self.files.items():
            assert path.read_bytes() == data, f"{path} was written through a link"
        for path in self.missing:
            assert not path.exists() and not path.is_symlink(), f"{path} was created through a link"


@pytest.fixture
def no_report(monkeypatch):
    """Runs whose own report is not what the test is about: no figures drawn."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


def finished_run(tiny_config, root: Path) -> Path:
    return run_training(tiny_config(epochs=1), runs_root=root).run_dir.path


def test_train_replaces_links_planted_while_it_trains(tiny_config, tmp_path):
    outside = Outside(tmp_path / "outside")

    def plant(event):
        if isinstance(event, EpochEnd) and event.record.epoch == 1:
            run = next((tmp_path / "runs").iterdir())
            outside.plant(run, RUN_FILES)

    outcome = run_training(tiny_config(epochs=2), runs_root=tmp_path / "runs", on_event=plant)
    assert outcome.training.status == "finished" and outcome.report_error is None
    outside.assert_untouched()
    run = outcome.run_dir.path
    for name in RUN_FILES:  # each rewritten after the links were planted: a file of its own now
        assert (run / name).is_file() and not (run / name).is_symlink() and os.stat(run / name).st_nlink == 1, name
    assert RunDir(run).read_status()["status"] == "finished"


def interrupted(tiny_config, root: Path) -> Path:
    stop = StopFlag()

    def stop_after_one(event):
        if isinstance(event, EpochEnd):
            stop.request("interrupted")

    return run_training(tiny_config(epochs=2), runs_root=root, on_event=stop_after_one, stop=stop).run_dir.path


def test_resume_replaces_links_and_refuses_a_linked_lock(tiny_config, tmp_path):
    run = interrupted(tiny_config, tmp_path / "runs")
    outside = Outside(tmp_path / "outside")
    for kind in KINDS:
        outside.plant(run, [LOCK], kind)
        with pytest.raises(UserError, match="symbolic link|hard link") as refused:
            resume_training(run)
        assert str(refused.value).startswith(str(run / LOCK)) and "\n" not in str(refused.value)
        outside.assert_untouched()
        (run / LOCK).unlink()
    outside.plant(run, [name for name in RUN_FILES if name != LAST])
    assert resume_training(run).training.status == "finished"
    outside.assert_untouched()


def test_report_replaces_links_and_refuses_a_linked_lock(tiny_config, tmp_path, capsys):
    run = finished_run(tiny_config, tmp_path / "runs")
    outside = Outside(tmp_path / "outside")
    outside.plant(run, [RESULTS, REPORT_MD, REPORT_HTML, *FIGURES])
    assert cli.main(["report", str(run)]) == 0
    outside.assert_untouched()
    assert RunDir(run).read_results() is not None
    for kind in KINDS:
        (run / LOCK).unlink()
        outside.plant(run, [LOCK], kind)
        assert cli.main(["report", str(run)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"freq-tui: error: {run / LOCK}: ") and "\n" not in err
        outside.assert_untouched()


def test_a_run_dir_or_output_folder_that_is_a_link_is_refused(no_report, tiny_config, tmp_path, capsys):
    """--run-dir, evaluate --out, compare --out, extract --out: never made or
    filled through a link (the folders above them may be links)."""
    run = finished_run(tiny_config, tmp_path / "runs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    tiny = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--epochs", "1",
            "--device", "cpu"]
    for argv in (["train", *tiny, "--run-dir", str(link)], ["evaluate", str(run / BEST), "--out", str(link)],
                 ["compare", str(run), str(run), "--out", str(link)]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"freq-tui: error: {link}: ") and "symbolic link" in err and "\n" not in err, err
        assert list(elsewhere.iterdir()) == []
    with pytest.raises(UserError, match="symbolic link"):
        extract_audio(wav(tmp_path / "a.wav"), run, link)
    assert list(elsewhere.iterdir()) == []


def wav(path: Path, seconds: float = 1.0, rate: int = 100) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * 2.0 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def test_extract_compare_sweep_replace_links_in_their_folders(no_report, tiny_config, tmp_path):
    runs = [finished_run(tiny_config, tmp_path / "runs") for _ in range(2)]
    outside = Outside(tmp_path / "outside")

    out = ensure_folder(tmp_path / "components")
    outside.plant(out, ["components.npz", "components.csv", "components.png"])
    extract_audio(wav(tmp_path / "a.wav"), runs[0], out)
    outside.assert_untouched()

    out = ensure_folder(tmp_path / "compare")
    outside.plant(out, [COMPARE_MD, COMPARE_HTML, LOSS_PNG, PER_FREQUENCY_PNG])
    assert cli.main(["compare", *map(str, runs), "--out", str(out)]) == 0
    outside.assert_untouched()

    out = ensure_folder(tmp_path / "sweep")
    outside.plant(out, ["sweep.csv", "sweep.md", "sweep.png"])
    settings = {k: v for k, v in tiny_config(epochs=1).to_dict().items() if k not in ("model", "noise", "phase_low", "phase_high")}
    assert len(run_sweep(sweep_configs({"stateful": settings}, (0.0,)), out)) == 1
    outside.assert_untouched()


def test_repeats_replace_links_in_the_parent(no_report, tiny_config, tmp_path):
    outside = Outside(tmp_path / "outside")
    config = tiny_config(epochs=1)

    def run_one(seed_config):
        outcome = run_training(seed_config)
        outside.plant(Path(seed_config.run_dir).parent, [SUMMARY_JSON, SUMMARY_MD])
        return JobReport(0, "", outcome.training.status, "", SeedOutcome(outcome.results, str(outcome.run_dir.path)))

    parent, summary, _ = run_repeats(config, 2, tmp_path / "runs", 1, run_one)
    assert summary is not None and len(summary.seeds) == 2
    outside.assert_untouched()
    assert (parent / SUMMARY_MD).is_file() and not (parent / SUMMARY_MD).is_symlink()


# ---- the mechanism itself (files.py), for every writer, the tune study's included
@pytest.mark.parametrize("kind", KINDS)
def test_the_one_mechanism(kind, tmp_path):
    outside = Outside(tmp_path / "outside")
    folder = ensure_folder(tmp_path / "study")
    outside.plant(folder, ["whole.json", "log.jsonl", "lock"], kind)
    atomic_write_text(folder / "whole.json", "{}\n")  # replaces the link itself
    assert (folder / "whole.json").read_text() == "{}\n" and not (folder / "whole.json").is_symlink()
    with pytest.raises(UserError, match="link"):
        append_text(folder / "log.jsonl", "line\n")
    with pytest.raises(UserError, match="link"):
        open_own_file(folder / "lock", os.O_RDWR | os.O_CREAT)
    outside.assert_untouched()
    os.mkfifo(folder / "fifo")
    with pytest.raises(UserError, match="named pipe"):  # refused without blocking
        append_text(folder / "fifo", "line\n")
    append_text(folder / "new.log", "a\n")
    append_text(folder / "new.log", "b\n")
    assert (folder / "new.log").read_text() == "a\nb\n"


def test_new_run_directories_are_private(no_report, tiny_config, tmp_path):
    run = run_training(tiny_config(epochs=1), runs_root=tmp_path / "runs").run_dir.path
    assert os.stat(run).st_mode & 0o777 == 0o700
    parent, _, _ = run_repeats(tiny_config(epochs=1), 2, tmp_path / "runs", 1,
                               lambda c: JobReport(0, "", "finished", "", SeedOutcome(None, "")))
    assert os.stat(parent).st_mode & 0o777 == 0o700


def test_tune_replaces_links_in_its_study_and_refuses_a_linked_journal_or_lock(tmp_path, capsys):
    from lstm_core.tune.report import BEST_TOML, TUNE_HTML, TUNE_MD
    from lstm_core.tune.storage import ASK_LOCK, JOURNAL

    out = ensure_folder(tmp_path / "study")
    outside = Outside(tmp_path / "outside")
    argv = ["tune", "--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--epochs", "1",
            "--device", "cpu", "--noise", "informative", "--trials", "1", "--seed-sets", "1", "--confirm-seeds", "0", "--out", str(out)]
    for name in (JOURNAL, ASK_LOCK):
        for kind in KINDS:
            outside.plant(out, [name], kind)
            assert cli.main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"freq-tui: error: {out / name}: ") and "link" in err and "\n" not in err, err
            outside.assert_untouched()
            (out / name).unlink()
    outside.plant(out, [BEST_TOML, TUNE_MD, TUNE_HTML])
    assert cli.main(argv) == 0
    outside.assert_untouched()
    assert (out / TUNE_MD).is_file() and not (out / TUNE_MD).is_symlink()

"""The report files, the report/evaluate/--repeats commands, and bad input
that must leave a run directory as it was."""
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_core.formatting import mse
from lstm_core.cli import main
from lstm_core.config import build_config
from lstm_core.figures import NAMES
from lstm_core.evaluation import evaluate_run
from lstm_core.report import export_run
from lstm_core.runner import run_training

TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--epochs", "2",
        "--hidden-size", "8", "--device", "cpu"]


def freq_tui(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lstm_core", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny trained run shared by the tests that only read it."""
    path = tmp_path_factory.mktemp("runs") / "run"
    config = build_config(dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=2, hidden_size=8,
                               device="cpu", run_dir=str(path)))
    outcome = run_training(config)
    assert outcome.report_error is None
    return outcome


def snapshot(directory: Path) -> dict[str, bytes]:
    """The run's files (not .lock: it names whoever held the run last)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".lock"}


def png_dpi(data: bytes) -> float:
    """DPI from the PNG's pHYs chunk (pixels per metre)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at = data.index(b"pHYs")
    per_metre = struct.unpack(">I", data[at + 4 : at + 8])[0]
    return per_metre * 0.0254


def test_training_writes_results_figures_and_report(trained_run):
    run = trained_run.run_dir.path
    results = json.loads((run / "results.json").read_text())
    assert {"baselines", "ablation", "verdict"} <= results.keys()
    assert results["verdict"]["code"] in ("uses_signal", "ignores_signal", "learned_nothing")
    assert results["verdict"]["text"]
    for name in (*NAMES, "report.md", "report.html"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert [p.name for p in trained_run.report_paths] == ["report.md", "report.html", *NAMES]
    for name in NAMES:
        assert png_dpi((run / name).read_bytes()) >= 149.9, name


def test_html_is_a_single_file_with_embedded_figures(trained_run):
    page = (trained_run.run_dir.path / "report.html").read_text()
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert references and all(ref.startswith("data:image/png;base64,") for ref in references)
    assert len(references) == len(NAMES)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "http://" not in page and "https://" not in page


# Headline first: what a reader needs before anything else, then the rest.
SECTION_ORDER = ("verdict", "test-mse-against-the-baselines", "per-frequency-performance", "all-frequencies",
                 "other-figures", "phase-and-frequency-drift", "input-ablation-and-band-pass-reference", "training-summary",
                 "machine-while-training", "environment",
                 "configuration")


def html_section_order(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', page)


def test_html_report_puts_the_headline_first(trained_run):
    page = (trained_run.run_dir.path / "report.html").read_text()
    assert html_section_order(page) == list(SECTION_ORDER)
    h1 = page.index("<h1>")
    assert trained_run.run_dir.path.name in page[h1:page.index("</h1>")]
    # the all-frequencies figure comes before any other figure, the verdict before any table
    images = re.findall(r'<img alt="([^"]+)"', page)
    assert images[0] == "graph2_all_frequencies.png" and sorted(images) == sorted(NAMES)
    assert page.index(trained_run.results.scores.verdict.text[:40]) < page.index("<table>")
    # configuration: the changed settings shown, the full list folded
    config = page[page.index('<section id="configuration">'):]
    assert "<details><summary>All " in config and "<th>default</th>" in config
    changed = config[:config.index("<details>")]
    assert "<td>hidden_size</td><td>8</td><td>64</td>" in changed and "<td>lr</td>" not in changed
    assert "<td>lr</td>" in config[config.index("<details>"):]
    assert "@media print" in page


def test_markdown_report_has_the_same_order(trained_run):
    text = (trained_run.run_dir.path / "report.md").read_text()
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    from lstm_core.report import section_id
    assert [section_id(h) for h in headings] == list(SECTION_ORDER)
    assert "<details><summary>All " in text


def test_report_has_every_section_and_measured_numbers(trained_run):
    text = (trained_run.run_dir.path / "report.md").read_text()
    scores = trained_run.results.scores
    assert mse(scores.test_mse) in text
    assert mse(scores.baselines.zero_mse) in text
    assert mse(scores.ablation.s_shuffled_mse) in text
    assert mse(scores.noisy_input.test_mse) in text and "white noise on S at 10 dB" in text
    assert scores.verdict.text in text
    assert "torch" in text and "epochs run" in text
    for name in NAMES:
        assert f"]({name})" in text


def test_evaluate_run_reproduces_the_training_evaluation(trained_run):
    again, before = evaluate_run(trained_run.run_dir).results, trained_run.results
    assert again.scores.test_mse == pytest.approx(before.scores.test_mse, rel=1e-6)
    assert again.scores.ablation.s_shuffled_mse == pytest.approx(before.scores.ablation.s_shuffled_mse, rel=1e-6)
    assert again.scores.noisy_input.test_mse == pytest.approx(before.scores.noisy_input.test_mse, rel=1e-6)
    assert again.training == before.training  # how it was trained: read from results.json


def test_report_command_regenerates_the_report(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run.run_dir.path, run)
    (run / "report.html").unlink()
    (run / NAMES[0]).unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file() and (run / NAMES[0]).is_file()
    out = capsys.readouterr().out
    assert "Verdict" in out and "band-pass" in out
    results = json.loads((run / "results.json").read_text())
    assert results["epochs_run"] == 2 and "verdict" in results  # training facts kept, evaluation refreshed


@pytest.mark.parametrize("damage", ["corrupt checkpoint", "no checkpoint", "other frequencies"])
def test_failed_report_leaves_the_run_directory_untouched(trained_run, tmp_path, capsys, damage):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run.run_dir.path, run)
    if damage == "corrupt checkpoint":
        (run / "best.pt").write_bytes(b"not a checkpoint")
    elif damage == "no checkpoint":
        (run / "best.pt").unlink()
    else:
        config = (run / "config.toml").read_text().replace("frequencies = [\n    2.0,\n    5.0,\n]",
                                                          "frequencies = [2.0, 5.0, 9.0]")
        assert "9.0" in config
        (run / "config.toml").write_text(config)
    before = snapshot(run)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("freq-tui: error:") and "\n" not in err
    assert snapshot(run) == before


def test_report_refuses_a_foreign_or_missing_directory(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["report", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not a freq-lstm run directory" in err[0] and "not found" in err[1]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_evaluate_on_other_noise_writes_a_new_directory(trained_run, tmp_path, capsys):
    out = tmp_path / "eval"
    before = snapshot(trained_run.run_dir.path)
    code = main(["evaluate", str(trained_run.run_dir.best_checkpoint), "--noise", "informative",
                 "--test-seed", "7", "--duration", "4", "--out", str(out)])
    assert code == 0
    assert snapshot(trained_run.run_dir.path) == before  # the source run is only read
    for name in ("config.toml", "best.pt", "metrics.jsonl", "results.json", "report.md", "report.html", *NAMES):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert results["source_checkpoint"] == str(trained_run.run_dir.best_checkpoint)
    saved = (out / "config.toml").read_text()
    assert 'noise = "informative"' in saved and "test_seed = 7" in saved
    # Small phase noise: S holds the targets, and the band-pass reference finds them.
    assert results["baselines"]["bandpass_mse"] < 0.1 * results["baselines"]["zero_mse"]
    # The output directory is a run directory: `report` works on it too.
    assert main(["report", str(out)]) == 0


def test_evaluate_never_clobbers_and_checks_the_model_fits(trained_run, tmp_path, capsys):
    checkpoint = str(trained_run.run_dir.best_checkpoint)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    assert main(["evaluate", checkpoint, "--out", str(taken)]) == 2
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert main(["evaluate", checkpoint, "--frequencies", "1,2,3", "--out", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()
    assert main(["evaluate", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "new")]) == 2
    (tmp_path / "fake.pt").write_bytes(b"junk")
    assert main(["evaluate", str(tmp_path / "fake.pt"), "--out", str(tmp_path / "new")]) == 2
    assert main(["evaluate", checkpoint, "--phase-high", "1", "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("freq-tui: error:") for line in err)
    assert "3" in err[1] and "frequencies" in err[1]
    assert not (tmp_path / "new").exists()


def test_headless_train_prints_and_writes_everything(tmp_path):
    run = tmp_path / "run"
    proc = freq_tui("train", *TINY, "--run-dir", str(run))
    assert proc.returncode == 0, proc.stderr
    for text in ("EVALUATION RESULTS", "zero predictor", "band-pass reference", "S replaced by zeros",
                 "S shuffled in time", "Verdict", "report.html"):
        assert text in proc.stdout, text
    assert (run / "report.html").is_file() and (run / "graph1_single_frequency.png").is_file()


def test_repeats_give_mean_and_std_over_seeds(tmp_path):
    parent = tmp_path / "rep"
    proc = freq_tui("train", *TINY, "--epochs", "1", "--repeats", "2", "--seed", "4", "--run-dir", str(parent))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in parent.iterdir()) == ["seed-4", "seed-5", "summary.json", "summary.md"]
    runs = [json.loads((parent / f"seed-{s}" / "results.json").read_text()) for s in (4, 5)]
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["seeds"] == [4, 5]
    values = [r["test_mse"] for r in runs]
    assert summary["metrics"]["test MSE"]["mean"] == pytest.approx(np.mean(values))
    assert summary["metrics"]["test MSE"]["std"] == pytest.approx(np.std(values, ddof=1))
    assert values[0] != values[1]  # different seeds, different models
    assert "Mean ± std over 2 seeds" in proc.stdout
    assert (parent / "seed-5" / "report.html").is_file()


def test_repeats_must_be_positive(tmp_path):
    proc = freq_tui("train", *TINY, "--repeats", "0")
    assert proc.returncode == 2 and "--repeats" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_run_without_results_json_is_reported_from_its_files(trained_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run.run_dir.path, run)
    for name in (*NAMES, "results.json"):
        (run / name).unlink()
    evaluated = evaluate_run(run)
    training = evaluated.results.training
    assert (training.epochs_run, training.best_epoch) == (2, trained_run.training.best_epoch)
    assert training.best_val_loss == pytest.approx(trained_run.training.best_val_loss)
    paths = export_run(evaluated)
    assert all(p.is_file() for p in paths) and len(paths) == 2 + len(NAMES)

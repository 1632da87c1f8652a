"""`freq-tui compare`: the files, the settings that differ, and runs that
cannot be compared refused in one line with nothing written."""
import re

import pytest

from lstm_core.cli import main
from lstm_core.compare import differing_settings, load_runs
from lstm_core.config import build_config
from lstm_core.runner import run_training

TINY = dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=2, hidden_size=8, device="cpu",
            noise="informative")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    paths = []
    for name, extra in (("small", {}), ("wide", {"hidden_size": 12, "lr": 0.003}),
                        ("other-hz", {"frequencies": [2.0, 7.0]})):
        outcome = run_training(build_config({**TINY, **extra, "run_dir": str(root / name)}))
        paths.append(outcome.run_dir.path)
    return paths


def test_compare_writes_markdown_html_and_pngs(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(runs[0]), str(runs[1]), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.html", "compare.md", "compare_loss.png",
                                                      "compare_per_frequency.png"]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "compare.html").read_text()
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert len(references) == 2 and all(ref.startswith("data:image/png;base64,") for ref in references)
    assert "http://" not in page and "https://" not in page
    assert re.findall(r'<section id="([^"]+)"', page) == ["runs", "loss-curves", "per-frequency-test-mse",
                                                           "settings-that-differ"]
    text = (out / "compare.md").read_text()
    assert "| metric | small | wide |" in text and "| verdict |" in text and "| zero predictor |" in text
    assert "| band-pass reference |" in text and "(same targets: no generalisation test)" in text
    assert "| 2 |" in text and "| 5 |" in text  # per-frequency test MSE, one row per frequency
    settings = text[text.index("## Settings that differ"):]
    assert "| hidden_size | 8 | 12 |" in settings and "| lr | 0.001 | 0.003 |" in settings
    assert "run_dir" not in settings and "| epochs |" not in settings
    out_text = capsys.readouterr().out
    assert "small" in out_text and "wide" in out_text and "compare.md" in out_text


def test_differing_settings_are_only_those_that_differ(runs):
    loaded = load_runs(runs[:2])
    assert [row[0] for row in differing_settings(loaded)] == ["hidden_size", "lr"]
    assert differing_settings(load_runs([runs[0], runs[0]])) == []


@pytest.mark.parametrize("case", ["other frequencies", "one run", "not a run", "no results"])
def test_compare_refuses_in_one_line_and_writes_nothing(runs, tmp_path, capsys, case):
    out = tmp_path / "cmp"
    if case == "other frequencies":
        args = [str(runs[0]), str(runs[2])]
    elif case == "one run":
        args = [str(runs[0])]
    elif case == "not a run":
        args = [str(runs[0]), str(tmp_path)]
    else:
        bare = tmp_path / "bare"
        bare.mkdir()
        (bare / "config.toml").write_text((runs[1] / "config.toml").read_text())
        args = [str(runs[0]), str(bare)]
    assert main(["compare", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("freq-tui: error:") and "\n" not in err
    if case == "other frequencies":
        assert "frequencies 2,7" in err and "2,5" in err and str(runs[2]) in err
    assert not out.exists()

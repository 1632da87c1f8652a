"""The Tune screen under Pilot: a study started from Configure's values and
a space file, its trials in the table, the best so far, the history chart,
and the study's files; a bad space is a status line, and nothing is made."""
from __future__ import annotations

import optuna
from textual.widgets import DataTable, Input

from lstm_core.tune.storage import open_storage
from tui.app import FreqApp
from tui.screens.tune import TuneScreen
from tui.widgets.charts import LineChart

from test_hangup import wait_until

TINY = {"duration": 0.2, "fs": 100.0, "epochs": 2, "hidden_size": 8, "device": "cpu"}


async def fill(pilot, screen, **values: str) -> None:
    for name, value in values.items():
        screen.query_one(f"#tune-{name}", Input).value = value
    await pilot.pause()


async def test_a_study_from_the_form_runs_on_the_tune_screen(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('[space]\nlr = [0.001, 0.01, "log"]\n')
    out = tmp_path / "study"
    app = FreqApp({**TINY, "hidden_size": 12}, runs_root=tmp_path / "runs")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f6")
        screen = app.screen
        assert isinstance(screen, TuneScreen)
        footer = " ".join(b.binding.description for b in screen.active_bindings.values() if b.binding.show)
        assert "Start study" in footer and "Tune" in footer
        await fill(pilot, screen, trials="2", **{"seed-sets": "1", "out": str(out), "space": str(space)})
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.running, 120)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [screen.rows[n]["state"] for n in sorted(screen.rows)] == ["complete", "complete"]
        assert screen.query_one("#tune-trials-table", DataTable).row_count == 2
        assert "best so far: trial" in str(screen.query_one("#tune-best").render())
        assert screen.query_one("#tune-history", LineChart).draws >= 1
        assert "done" in str(screen.query_one("#tune-status").render())
    study = optuna.load_study(study_name="freq-lstm", storage=open_storage("", out))
    assert len(study.trials) == 2
    assert all(t.params.keys() == {"lr"} for t in study.trials)
    assert (out / "tune.md").is_file() and (out / "best.toml").is_file()
    assert "hidden_size = 12" in (out / "best.toml").read_text()  # Configure's values, the trial's lr


async def test_a_bad_space_is_a_status_line_and_nothing_is_made(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('[space]\nlr = [0.1, 0.01]\n')
    out = tmp_path / "study"
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f6")
        screen = app.screen
        await fill(pilot, screen, out=str(out), space=str(space))
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "empty or inverted range" in str(screen.query_one("#tune-status").render())
        assert not screen.running
    assert not out.exists()

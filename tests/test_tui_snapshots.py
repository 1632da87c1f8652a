"""Snapshot tests: every screen at 80x24 (and Train with NO_COLOR).

Screens that show a run are fed synthetic, fixed data (no training, no
clock), so the pictures are the same on every machine. Update them with
`pytest tests/test_tui_snapshots.py --snapshot-update` after checking the
report.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from lstm_core.config import build_config
from tui.app import FreqApp
from conftest import synthetic_run_evaluation
from lstm_core.evaluation import RunEvaluation
from lstm_core.events import BatchProgress, EpochRecord, Preview, RunStarted
from tui.messages import BatchesDone, EpochsDone, TrainingStarted
from lstm_core.sysmon import SystemSample
from tui.session import TrainingSession

TINY = {"duration": 0.2, "fs": 100.0, "epochs": 2, "hidden_size": 8, "device": "cpu"}
SIZE = (80, 24)
FREQUENCIES = [1.0, 3.0, 5.0, 7.0]


GPU_FIGURES = dict(gpu_util_percent=87.0, gpu_mem_used_mb=3072.0, gpu_mem_total_mb=81920.0, gpu_temp_c=64.0,
                   gpu_power_w=212.5)


class FixedSampler:
    """The machine's line with the same figures on every machine."""

    def __init__(self, device: str) -> None:
        self.on_gpu = device.startswith("cuda")

    def sample(self) -> SystemSample:
        return SystemSample(cpu_percent=43.0, rss_mb=512.0, on_gpu=self.on_gpu,
                            **(GPU_FIGURES if self.on_gpu else {}))

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fixed_machine(monkeypatch):
    monkeypatch.setattr("tui.screens.train.SystemSampler", FixedSampler)


def make_app(tmp_path: Path) -> FreqApp:
    return FreqApp(TINY, runs_root=str(tmp_path / "runs"))


def test_configure_screen(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE)


def test_configure_screen_with_errors(snap_compare, tmp_path):
    async def bad_values(pilot):
        screen = pilot.app.screen
        screen.query_one("#field-duration").value = "-1"
        screen.query_one("#field-amplitude_low").value = "x"
        screen.query_one("#field-frequencies").cursor_blink = False  # a blink caught mid-way made this flaky
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=bad_values)


def feed_training(app: FreqApp, device: str = "cpu") -> None:
    """A run in its fourth epoch of five, as the worker's messages describe it."""
    app.session = TrainingSession(run_dir="runs/20260101-120000-stateful", source="app", state="starting",
                                  total_epochs=5, frequencies=FREQUENCIES)
    app.on_training_started(TrainingStarted(app.session.run_dir, RunStarted(5, 40, device, 1)))
    records = [EpochRecord(e, 0.52 - 0.03 * e, 0.51 - 0.025 * e, 1e-3, 2.0, True) for e in (1, 2, 3)]
    t = np.linspace(0.0, 1.0, 200)
    target = np.stack([np.sin(2 * np.pi * f * t) for f in FREQUENCIES])
    app.on_epochs_done(EpochsDone(records, Preview(t, 0.7 * target, target)))
    app.on_batches_done(BatchesDone(BatchProgress(4, 10, 40, 0.431)))
    app.session.epoch_started_at = 0.0  # no wall-clock batch ETA in a snapshot


async def show_training(pilot, device: str = "cpu"):
    app = pilot.app
    feed_training(app, device)
    await app.switch_mode("train")
    await pilot.pause()
    await app.workers.wait_for_complete()  # the machine's sampler is opened on a thread
    await pilot.pause()
    app.screen.draw()
    await pilot.pause()


def test_train_screen(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=show_training)


def test_train_screen_on_a_gpu(snap_compare, tmp_path):
    async def on_gpu(pilot):
        await show_training(pilot, "cuda:0")

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=on_gpu)


def test_train_screen_no_color(snap_compare, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=show_training)


def synthetic_evaluation() -> RunEvaluation:
    fs, n = 100.0, 400
    t = np.arange(n) / fs
    targets = np.stack([np.sin(2 * np.pi * f * t) for f in FREQUENCIES])
    return synthetic_run_evaluation(Path("runs/20260101-120000-stateful"), targets, 0.9 * targets, FREQUENCIES, fs,
                                    config=build_config(TINY))


def test_evaluate_screen(snap_compare, tmp_path):
    async def show(pilot):
        await pilot.app.switch_mode("evaluate")
        await pilot.pause()
        pilot.app.screen.show(synthetic_evaluation())
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=show)


def test_runs_screen(snap_compare, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(tmp_path)
    for name, status, mse in (("20260101-120000-stateful", "finished", 0.4987),
                              ("20260101-130000-sequence", "cancelled", None)):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        (run / "config.toml").write_text("")
        (run / "status.json").write_text(json.dumps({"status": status, "model": name.split("-")[-1],
                                                     "started": 1767268800.0 + (3600 if "13" in name else 0),
                                                     "test_mse": mse}))
        (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "train_loss": 0.5, "val_loss": 0.5}) + "\n"
                                                   for e in (1, 2, 3)))
    app = FreqApp(TINY, runs_root="runs")
    assert snap_compare(app, terminal_size=SIZE, press=["f5"])
    time.tzset()


def test_help_screen(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, press=["f1"])

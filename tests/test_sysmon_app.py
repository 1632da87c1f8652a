"""The Train screen's line about the machine: CPU and memory while the app
trains, GPU figures (or why not) on a CUDA device, the figures of a
followed run's last epoch, and the width of the line at 80 columns."""
from __future__ import annotations

import re

import pytest

from lstm_core.events import EpochRecord
from lstm_core.sysmon import NO_NVML, SystemSample
from tui.app import FreqApp
from tui.messages import EpochsDone
from tui.screens import train as train_screen
from tui.session import TrainingSession
from tui.widgets.system import WIDTH, format_sample

from test_tui_app import TINY, settle

GPU = dict(gpu_util_percent=87.0, gpu_mem_used_mb=3072.0, gpu_mem_total_mb=81920.0, gpu_temp_c=64.0,
           gpu_power_w=212.5)


async def test_train_screen_shows_cpu_and_memory_while_training(tmp_path):
    app = FreqApp({**TINY, "epochs": 100_000, "patience": 100_000}, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        seen = ""
        for _ in range(400):
            await pilot.pause(0.05)
            screen = app.screen
            if isinstance(screen, train_screen.TrainScreen) and app.session.history:
                seen = screen.query_one("#system").text
                if re.search(r"CPU \d+%  RSS \d+ MB", seen):
                    break
        assert re.search(r"CPU \d+%  RSS \d+ MB", seen), seen
        assert app.session.state == "running" and "GPU" not in seen  # a CPU run: no GPU figures asked for
        assert screen.sampler_device == "cpu"
        rss = int(re.search(r"RSS (\d+) MB", seen).group(1))
        assert 20 < rss < 8000
        await pilot.press("s")
        await settle(app, pilot)
        assert app.session.history[-1].rss_mb is not None  # the trainer's own figures, in the record


async def test_a_cuda_run_without_nvidia_ml_py_says_why(tmp_path, monkeypatch):
    """The sampler the screen opens for a CUDA device: here NVML is missing."""
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.session = TrainingSession(run_dir="runs/x", source="app", state="running", device="cuda:0")
        await app.switch_mode("train")
        for _ in range(100):
            await pilot.pause(0.02)
            text = app.screen.query_one("#system").text
            if "GPU" in text:
                break
        assert text.endswith("GPU: needs nvidia-ml-py (pip install 'freq-lstm[gpu]')") and "CPU" in text
        assert " 0%" not in text.split("GPU")[1]


async def test_a_sampler_that_fails_says_so(tmp_path, monkeypatch):
    def broken(device):
        raise RuntimeError("boom")

    monkeypatch.setattr(train_screen, "SystemSampler", broken)
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("train")
        for _ in range(100):
            await pilot.pause(0.02)
            if app.screen.sampler_failed is not None:
                break
        assert app.screen.query_one("#system").text == "CPU, RSS: sampler failed"
        app.screen.draw_system()  # the next second says the same
        assert app.screen.query_one("#system").text == "CPU, RSS: sampler failed"


async def test_a_followed_run_shows_its_last_epoch(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.session = TrainingSession(run_dir="runs/x", source="follow", state="running")
        await app.switch_mode("train")
        app.on_epochs_done(EpochsDone([EpochRecord(7, 0.1, 0.1, 1e-3, 1.0, True, None, 55.0, 900.0, **GPU)], None,
                                      "runs/x"))
        app.screen.draw_system()
        await pilot.pause()
        assert app.screen.query_one("#system").text == "CPU 55%  RSS 900 MB  GPU 87%  3.0/80.0 GB  64°C  212 W  (epoch 7)"
        assert app.screen.sampler is None  # nothing of this process is sampled for a run elsewhere


@pytest.mark.parametrize("sample, expected", [
    (SystemSample(cpu_percent=43.0, rss_mb=512.0), "CPU 43%  RSS 512 MB"),
    (SystemSample(cpu_percent=100.0, rss_mb=2048.0, on_gpu=True, **GPU),
     "CPU 100%  RSS 2.0 GB  GPU 87%  3.0/80.0 GB  64°C  212 W"),
    (SystemSample(cpu_percent=5.0, rss_mb=512.0, on_gpu=True, unread={"gpu": NO_NVML}),
     "CPU 5%  RSS 512 MB  GPU: needs nvidia-ml-py (pip install 'freq-lstm[gpu]')"),
    (SystemSample(cpu_percent=5.0, rss_mb=512.0, on_gpu=True, gpu_mem_used_mb=3072.0, gpu_mem_total_mb=10240.0,
                  unread={n: "MIG slice: NVML does not report it per slice" for n in
                          ("gpu_util_percent", "gpu_temp_c", "gpu_power_w")}),
     "CPU 5%  RSS 512 MB  GPU -  3.0/10.0 GB  -  -  (util, temp, power: MIG slice)"),
    (SystemSample(on_gpu=True, unread={"cpu": "CPU and memory figures need psutil: pip install psutil",
                                       "gpu": "NVML did not start (Driver Not Loaded): no GPU figures"}),
     "CPU, RSS: needs psutil (pip install psutil)  GPU: NVML did not start"),
])
def test_the_line_reads_plainly_and_fits_80_columns(sample, expected):
    text = format_sample(sample)
    assert text == expected and len(text) <= WIDTH

"""The machine's figures: read where they can be, a reason where they
cannot (never a zero), kept in each epoch's record and summarised in
results.json, the report, `runs --json` and a headless train's last lines.
NVML is faked here (no GPU in CI): missing, failing to start, a MIG slice,
no access, and working."""
import json
import sys
import types
from pathlib import Path

import pytest

from lstm_core import cli, sysmon
from lstm_core.events import SYSTEM_FIELDS, EpochRecord
from lstm_core.rundir import RunDir
from lstm_core.runlist import list_runs
from lstm_core.api import start_run
from lstm_core.sysmon import NO_NVML, SystemSampler, summarise, summary_line


# ---- a fake nvidia-ml-py ------------------------------------------------------------
class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_NoPermission(NVMLError):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


def fake_nvml(*, init_error=None, not_supported=(), no_permission=(), mig=False, samples=None):
    """A module with nvidia-ml-py's names. `not_supported`/`no_permission`:
    the getters (utilisation, memory, temperature, power) that raise."""
    calls = []

    def getter(name, value):
        def get(*args):
            calls.append(name)
            if name in not_supported:
                raise NVMLError_NotSupported("Not Supported")
            if name in no_permission:
                raise NVMLError_NoPermission("Insufficient Permissions")
            return value
        return get

    def init():
        calls.append("init")
        if init_error is not None:
            raise init_error

    def get_samples(handle, kind, since):
        calls.append("samples")
        if samples is None or "utilisation" in not_supported:
            raise NVMLError_NotSupported("Not Supported")
        return 1, [types.SimpleNamespace(timeStamp=t, sampleValue=types.SimpleNamespace(uiVal=v))
                   for t, v in samples if t > since]

    module = types.SimpleNamespace(
        NVMLError=NVMLError, NVMLError_NotSupported=NVMLError_NotSupported,
        NVMLError_NoPermission=NVMLError_NoPermission, NVML_TEMPERATURE_GPU=0, NVML_GPU_UTILIZATION_SAMPLES=1,
        nvmlInit=init, nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlDeviceGetHandleByIndex=lambda i: calls.append(f"index {i}") or f"handle {i}",
        nvmlDeviceGetHandleByUUID=lambda u: calls.append(f"uuid {u}") or f"handle {u}",
        nvmlDeviceGetHandleByPciBusId=lambda b: calls.append(f"pci {b}") or f"handle {b}",
        nvmlDeviceIsMigDeviceHandle=lambda h: mig,
        nvmlDeviceGetUtilizationRates=getter("utilisation", types.SimpleNamespace(gpu=87, memory=40)),
        nvmlDeviceGetMemoryInfo=getter("memory", types.SimpleNamespace(used=3 * 2**30, total=80 * 2**30,
                                                                       free=77 * 2**30)),
        nvmlDeviceGetTemperature=getter("temperature", 64),
        nvmlDeviceGetPowerUsage=getter("power", 212_500),
        nvmlDeviceGetSamples=get_samples,
        calls=calls)
    return module


@pytest.fixture
def nvml(monkeypatch):
    """Install a fake pynvml built with the given options."""
    def install(**options):
        module = fake_nvml(**options)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return install


def no_zeros(sample):
    """Every GPU figure that was not read is None with a reason, never 0."""
    for name in sysmon.GPU_FIELDS:
        value = getattr(sample, name)
        assert value != 0 or value is None
        if value is None:
            assert sample.unread.get(name) or sample.unread.get("gpu")


# ---- the sampler ------------------------------------------------------------------------
def test_cpu_and_memory_are_read_with_psutil():
    import psutil

    sampler = SystemSampler("cpu")
    sum(i * i for i in range(300_000))  # some CPU time between the looks
    sample = sampler.sample()
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert sample.rss_mb == pytest.approx(psutil.Process().memory_info().rss / 2**20, rel=0.2)
    assert not sample.on_gpu and sample.gpu_reason() is None
    assert all(getattr(sample, name) is None for name in sysmon.GPU_FIELDS)  # no GPU in use: none asked for


def test_another_process_memory_is_read_by_pid():
    import os
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(200 * 2**20); time.sleep(30)"])
    try:
        for _ in range(100):
            sample = SystemSampler("cpu", pid=child.pid).sample()
            if sample.rss_mb and sample.rss_mb > 150:
                break
            import time
            time.sleep(0.05)
        assert sample.rss_mb > 150 and child.pid != os.getpid()
    finally:
        child.kill()
        child.wait()
    gone = SystemSampler("cpu", pid=child.pid)
    sum(i * i for i in range(300_000))
    sample = gone.sample()
    assert sample.rss_mb is None and f"process {child.pid} cannot be read" in sample.unread["rss_mb"]
    assert sample.cpu_percent is not None or "cpu_percent" in sample.unread  # the machine's load is not the process's


def test_without_psutil_cpu_and_memory_say_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil raises ImportError
    sample = SystemSampler("cpu").sample()
    assert sample.cpu_percent is None and sample.rss_mb is None
    assert "pip install psutil" in sample.unread["cpu_percent"]


def test_without_nvidia_ml_py_gpu_figures_say_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    sample = SystemSampler("cuda:0").sample()
    assert sample.on_gpu and sample.gpu_reason() == NO_NVML
    assert NO_NVML == "GPU figures need nvidia-ml-py: pip install 'freq-lstm[gpu]'"
    assert all(getattr(sample, name) is None for name in sysmon.GPU_FIELDS)
    assert sample.cpu_percent is not None or "cpu_percent" in sample.unread  # the CPU is still read


def test_the_deprecated_pynvml_package_counts_as_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", types.SimpleNamespace(__name__="pynvml"))
    assert SystemSampler("cuda").sample().gpu_reason() == NO_NVML


def test_nvml_that_fails_to_start_gives_its_reason(nvml):
    nv = nvml(init_error=NVMLError_LibraryNotFound("NVML Shared Library Not Found"))
    sample = SystemSampler("cuda").sample()
    assert "NVML did not start (NVML Shared Library Not Found)" in sample.gpu_reason()
    no_zeros(sample)
    assert all(getattr(sample, name) is None for name in sysmon.GPU_FIELDS)
    assert nv.calls == ["init"]


def test_the_real_nvml_without_a_driver_gives_a_reason():
    """This machine's nvidia-ml-py finds no driver (CI has no GPU): a reason, no figures."""
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("NVML works here: the faked failures above cover this")
    except pynvml.NVMLError:
        pass
    sample = SystemSampler("cuda:0").sample()
    assert sample.gpu_reason().startswith("NVML did not start")
    no_zeros(sample)


def test_a_working_gpu_gives_every_figure(nvml):
    nv = nvml(samples=[(10, 90), (20, 80), (30, 70)])
    sampler = SystemSampler("cuda:1")
    sample = sampler.sample()
    assert (sample.gpu_util_percent, sample.gpu_mem_used_mb, sample.gpu_mem_total_mb, sample.gpu_temp_c,
            sample.gpu_power_w) == (80.0, 3072.0, 81920.0, 64.0, 212.5)
    assert sample.gpu_reason() is None and "index 1" in nv.calls
    # the next look takes only the samples since: none new, so the driver's latest figure
    assert sampler.sample().gpu_util_percent == 87.0
    sampler.close()
    assert nv.calls[-1] == "shutdown"


def test_a_uuid_in_cuda_visible_devices_is_asked_for_by_uuid(nvml, monkeypatch):
    nv = nvml()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa,MIG-bbbb")
    SystemSampler("cuda:1").sample()
    assert "uuid MIG-bbbb" in nv.calls
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,2")
    SystemSampler("cuda:0").sample()
    assert "index 3" in nv.calls


def test_a_mig_slice_reads_its_memory_and_says_why_not_the_rest(nvml):
    nvml(mig=True, not_supported=("utilisation", "power", "temperature"))
    sample = SystemSampler("cuda").sample()
    assert sample.gpu_mem_used_mb == 3072.0 and sample.gpu_mem_total_mb == 81920.0
    assert sample.gpu_util_percent is None and sample.gpu_power_w is None and sample.gpu_temp_c is None
    assert "MIG slice" in sample.unread["gpu_util_percent"]
    assert "GPU utilisation" in sample.gpu_reason() and "MIG slice" in sample.gpu_reason()
    no_zeros(sample)


def test_no_access_says_so(nvml):
    nvml(no_permission=("utilisation", "memory", "temperature", "power"))
    sample = SystemSampler("cuda").sample()
    assert all(getattr(sample, name) is None for name in sysmon.GPU_FIELDS)
    assert "no access" in sample.gpu_reason()
    no_zeros(sample)


def test_a_gpu_nvml_cannot_find_gives_a_reason(nvml, monkeypatch):
    nv = nvml()

    def missing(index):
        raise NVMLError("Invalid Argument")

    monkeypatch.setattr(nv, "nvmlDeviceGetHandleByIndex", missing)
    sample = SystemSampler("cuda:5").sample()
    assert "GPU 5 not found through NVML" in sample.gpu_reason() and nv.calls[-1] == "shutdown"


# ---- epoch records and the files ----------------------------------------------------------
FIGURES = {"cpu_percent": 43.5, "rss_mb": 512.0, "gpu_util_percent": 87.0, "gpu_mem_used_mb": 3072.0,
           "gpu_mem_total_mb": 81920.0, "gpu_temp_c": 64.0, "gpu_power_w": 212.5}


def test_epoch_records_round_trip_with_and_without_the_figures():
    with_figures = EpochRecord(3, 0.4, 0.45, 1e-3, 2.0, True, None, **FIGURES)
    assert EpochRecord.from_json(json.loads(json.dumps(with_figures.to_json()))) == with_figures
    without = EpochRecord(3, 0.4, 0.45, 1e-3, 2.0, True)
    assert not set(SYSTEM_FIELDS) & set(without.to_json())  # figures not read are left out of the line
    assert EpochRecord.from_json(without.to_json()) == without
    old_line = {"epoch": 1, "train_loss": 0.5, "val_loss": 0.5, "lr": 0.001, "epoch_time": 1.0, "is_best": True}
    assert EpochRecord.from_json(old_line).cpu_percent is None  # a metrics file from before still reads
    with pytest.raises(ValueError, match="gpu_temp_c"):
        EpochRecord.from_json({**old_line, "gpu_temp_c": "hot"})
    assert EpochRecord.from_json({**old_line, "rss_mb": 512}).rss_mb == 512.0


def test_a_metrics_line_with_a_wrong_figure_is_skipped_by_readers(tmp_path, tiny_config):
    run = RunDir(tmp_path)
    good = {"epoch": 1, "train_loss": 0.5, "val_loss": 0.5, **FIGURES}
    (tmp_path / "metrics.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({**good, "epoch": 2,
                                                                                   "cpu_percent": [1]}) + "\n")
    assert [r.epoch for r in run.read_metrics()] == [1] and run.read_metrics()[0].gpu_power_w == 212.5


def record(epoch=1, **figures):
    return EpochRecord(epoch, 0.4, 0.4, 1e-3, 1.0, False, None, **figures)


def test_summaries_take_means_and_peaks_and_keep_the_reason():
    records = [record(1, **{**FIGURES, "cpu_percent": 40.0, "rss_mb": 500.0, "gpu_mem_used_mb": 1000.0}),
               record(2, **{**FIGURES, "cpu_percent": 50.0, "rss_mb": 520.0, "gpu_util_percent": 77.0}), record(3)]
    summary = summarise(records)
    assert summary["cpu_percent_mean"] == 45.0 and summary["rss_mb_peak"] == 520.0
    assert summary["gpu_util_percent_mean"] == 82.0 and summary["gpu_mem_used_mb_peak"] == 3072.0
    assert summary["epochs_sampled"] == 2 and "gpu_unread" not in summary
    assert summarise([record()]) is None  # nothing read, no reason: no summary
    missing = summarise([record(cpu_percent=10.0, rss_mb=100.0)], NO_NVML)
    assert missing["gpu_util_percent_mean"] is None and missing["gpu_unread"] == NO_NVML
    line = summary_line(missing)
    assert "CPU load, mean (all cores) 10%" in line and NO_NVML in line and "GPU utilisation" not in line


def test_a_training_run_records_and_summarises_the_figures(tmp_path, tiny_config, monkeypatch, capsys):
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])
    outcome = start_run(tiny_config(epochs=3), runs_root=tmp_path)
    lines = [json.loads(line) for line in (outcome.run_dir.path / "metrics.jsonl").read_text().splitlines()]
    assert all(line["rss_mb"] > 10 for line in lines)
    loads = [line["cpu_percent"] for line in lines if "cpu_percent" in line]  # absent: no clock tick in the epoch
    assert loads and all(0.0 <= load <= 100.0 for load in loads)
    assert not any(name in line for name in sysmon.GPU_FIELDS for line in lines)  # a CPU run asks no GPU
    assert [r.rss_mb for r in outcome.training.history] == [line["rss_mb"] for line in lines]
    saved = json.loads((outcome.run_dir.path / "results.json").read_text())["system"]
    assert saved["rss_mb_peak"] == max(line["rss_mb"] for line in lines) and saved["epochs_sampled"] == 3
    listed = list_runs(tmp_path)[0].to_json()["system"]
    assert listed == saved
    assert cli.main(["runs", "--runs-root", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["system"]["rss_mb_peak"] == saved["rss_mb_peak"]


def test_runs_json_summarises_a_run_without_results(tmp_path, capsys):
    run = tmp_path / "20260101-120000-stateful"
    run.mkdir()
    (run / "config.toml").write_text("")
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"epoch": e, "train_loss": 0.5, "val_loss": 0.5, "rss_mb": 400.0 + e}) + "\n" for e in (1, 2)))
    assert cli.main(["runs", "--runs-root", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["system"]["rss_mb_peak"] == 402.0


def test_headless_train_prints_the_machine_in_its_closing_lines(tmp_path, capsys):
    code = cli.main(["train", "--duration", "0.3", "--fs", "100", "--frequencies", "2,5", "--epochs", "2",
                     "--hidden-size", "8", "--device", "cpu", "--run-dir", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("Machine while training"))
    peak = json.loads((tmp_path / "run" / "results.json").read_text())["system"]["rss_mb_peak"]
    assert f"{peak:.0f} MB" in out and "CPU load" in line
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Machine while training" in report and f"| process memory (RSS), peak | {peak:.0f} MB |" in report
    assert "GPU" not in report.split("## Machine while training")[1].split("##")[0]  # a CPU run: no GPU rows


def test_report_rows_for_a_gpu_run_and_for_unread_figures():
    from lstm_core.report import system_blocks

    gpu = summarise([record(**FIGURES)])
    text = json.dumps(system_blocks(gpu))
    assert "GPU utilisation, mean" in text and "87%" in text and "3072 MB of 81920 MB" in text and "NVML" in text
    unread = json.dumps(system_blocks(summarise([record(cpu_percent=5.0)], "NVML did not start (x): no GPU figures")))
    assert "NVML did not start" in unread and "0 MB" not in unread and "0%" not in unread

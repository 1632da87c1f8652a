"""The machine while a run trains: CPU load and the process's memory
(psutil), and on a CUDA device that GPU's utilisation, memory, temperature
and power (NVML, from nvidia-ml-py, imported as `pynvml`).

A figure that cannot be read is None, with the reason in `unread` (no
nvidia-ml-py, NVML failing to start, a MIG slice, no access): never a zero.
Every call is cheap (psutil reads /proc, NVML asks the driver: microseconds
each), so the trainer samples once an epoch and the app once a second, each
with a sampler of its own (the CPU load is the mean since that sampler's
previous call).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from .events import SYSTEM_FIELDS, EpochRecord

MB = 2**20
NO_PSUTIL = "CPU and memory figures need psutil: pip install psutil"
NO_NVML = "GPU figures need nvidia-ml-py: pip install 'freq-lstm[gpu]'"
GPU_FIELDS = SYSTEM_FIELDS[2:]  # SYSTEM_FIELDS: the per-epoch figures, EpochRecord fields of these names


@dataclass(frozen=True)
class SystemSample:
    """One look at the machine. cpu_percent: all cores, mean since the
    sampler's previous look (100 = every core busy); rss_mb: this (or the
    watched) process's resident memory; gpu_*: the run's GPU, utilisation
    the mean over the same time where NVML keeps samples of it."""

    cpu_percent: Optional[float] = None
    rss_mb: Optional[float] = None
    gpu_util_percent: Optional[float] = None
    gpu_mem_used_mb: Optional[float] = None
    gpu_mem_total_mb: Optional[float] = None
    gpu_temp_c: Optional[float] = None
    gpu_power_w: Optional[float] = None
    on_gpu: bool = False  # the run uses a CUDA device: GPU figures are expected
    unread: Mapping[str, str] = field(default_factory=dict)  # "cpu" | "gpu" | a figure -> why it was not read

    def figures(self) -> dict[str, Optional[float]]:
        return {name: getattr(self, name) for name in SYSTEM_FIELDS}

    def gpu_reason(self) -> Optional[str]:
        """Why GPU figures are missing, one line (None: every one was read, or no GPU is used)."""
        if not self.on_gpu:
            return None
        if "gpu" in self.unread:
            return self.unread["gpu"]
        missing = [name for name in GPU_FIELDS if getattr(self, name) is None]
        if not missing:
            return None
        reasons = sorted({self.unread.get(name, "not read") for name in missing})
        return f"{', '.join(LABELS[name] for name in missing)}: {'; '.join(reasons)}"


LABELS = {"cpu_percent": "CPU", "rss_mb": "RSS", "gpu_util_percent": "GPU utilisation",
          "gpu_mem_used_mb": "GPU memory", "gpu_mem_total_mb": "GPU memory total", "gpu_temp_c": "temperature",
          "gpu_power_w": "power"}


def cuda_index(device: str) -> Optional[int]:
    """The CUDA ordinal of a device name ("cuda" is 0); None for any other device."""
    name = device.strip().lower().split(" ")[0]
    if name == "cuda":
        return 0
    if name.startswith("cuda:") and name[5:].isdigit():
        return int(name[5:])
    return None


class SystemSampler:
    """Samples the machine for a run on `device` ("cpu", "cuda", "cuda:N",
    as the trainer names it). `pid`: the process whose memory is shown
    (default: this one)."""

    def __init__(self, device: str, pid: Optional[int] = None) -> None:
        self.unread: dict[str, str] = {}
        self._process = None
        self._cpu_last: Optional[tuple[float, float]] = None  # (busy, total) seconds of all cores
        try:
            import psutil
        except ImportError:
            self.unread["cpu"] = NO_PSUTIL
            psutil = None
        self._psutil = psutil
        if psutil is not None:
            try:
                self._cpu_last = self._cpu_busy_total()
            except (psutil.Error, OSError) as exc:
                self.unread["cpu_percent"] = f"CPU times cannot be read ({exc.__class__.__name__})"
            try:
                self._process = psutil.Process(pid)
            except (psutil.Error, OSError) as exc:
                self.unread["rss_mb"] = f"process {pid or os.getpid()} cannot be read ({exc.__class__.__name__})"
        self.gpu = _Nvml.open(cuda_index(device)) if cuda_index(device) is not None else None
        self.on_gpu = self.gpu is not None
        self.last: Optional[SystemSample] = None  # the latest sample

    def _cpu_busy_total(self) -> tuple[float, float]:
        times = self._psutil.cpu_times()
        total = sum(times)
        idle = times.idle + getattr(times, "iowait", 0.0)
        return total - idle, total

    def _cpu_percent(self) -> tuple[Optional[float], Optional[str]]:
        if self._cpu_last is None:
            return None, self.unread.get("cpu") or self.unread.get("cpu_percent")
        try:
            busy, total = self._cpu_busy_total()
        except (self._psutil.Error, OSError) as exc:
            return None, f"CPU times cannot be read ({exc.__class__.__name__})"
        last_busy, last_total = self._cpu_last
        self._cpu_last = busy, total
        if total <= last_total:  # no clock tick since the last look: nothing measured yet
            return None, "no CPU time has passed since the last look"
        return round(100.0 * max(0.0, busy - last_busy) / (total - last_total), 1), None

    def _rss_mb(self) -> tuple[Optional[float], Optional[str]]:
        if self._process is None:
            return None, self.unread.get("cpu") or self.unread.get("rss_mb")
        try:
            return round(self._process.memory_info().rss / MB, 1), None
        except (self._psutil.Error, OSError) as exc:
            return None, f"process memory cannot be read ({exc.__class__.__name__})"

    def start(self) -> None:
        """From now on: the next sample's means cover the time after this call."""
        self.sample()

    def sample(self) -> SystemSample:
        unread = dict(self.unread)
        cpu, why_cpu = self._cpu_percent()
        rss, why_rss = self._rss_mb()
        for name, why in (("cpu_percent", why_cpu), ("rss_mb", why_rss)):
            if why:
                unread[name] = why
        gpu: dict[str, Optional[float]] = {}
        if self.gpu is not None:
            gpu, why_gpu = self.gpu.read()
            unread.update(why_gpu)
        self.last = SystemSample(cpu_percent=cpu, rss_mb=rss, on_gpu=self.on_gpu, unread=unread, **gpu)
        return self.last

    def gpu_reason(self) -> Optional[str]:
        """Why the run's GPU figures are missing (None: read, or no GPU used)."""
        return self.last.gpu_reason() if self.last is not None else None

    def close(self) -> None:
        if self.gpu is not None:
            self.gpu.close()
            self.gpu = None


def _nvml_error_text(pynvml: Any, exc: BaseException) -> str:
    """A reason: what happened, then after a ':' the detail (the app's line shows the first part)."""
    if isinstance(exc, getattr(pynvml, "NVMLError_NotSupported", ())):
        return "not supported on this GPU: NVML does not report it here"
    if isinstance(exc, getattr(pynvml, "NVMLError_NoPermission", ())):
        return "no access: NVML says this process may not read it"
    return f"NVML error: {exc}"


class _Nvml:
    """One GPU through NVML. `open` never raises: a GPU it cannot reach
    gives an _Nvml whose `read` returns the reason and no figures."""

    def __init__(self, pynvml: Any, handle: Any, reason: Optional[str], mig: bool) -> None:
        self.pynvml, self.handle, self.reason, self.mig = pynvml, handle, reason, mig
        self._seen_us = 0  # the newest utilisation sample taken (NVML's microsecond clock)

    @classmethod
    def open(cls, index: int) -> "_Nvml":
        try:
            import pynvml
        except ImportError:
            return cls(None, None, NO_NVML, False)
        if not hasattr(pynvml, "nvmlDeviceGetUtilizationRates"):  # the old `pynvml` package, not nvidia-ml-py
            return cls(None, None, NO_NVML, False)
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            return cls(None, None, f"NVML did not start ({exc}): no GPU figures", False)
        except OSError as exc:
            return cls(None, None, f"NVML did not start ({exc.__class__.__name__}): no GPU figures", False)
        try:
            handle = _handle(pynvml, index)
            mig = False
            if hasattr(pynvml, "nvmlDeviceIsMigDeviceHandle"):
                try:
                    mig = bool(pynvml.nvmlDeviceIsMigDeviceHandle(handle))
                except pynvml.NVMLError:
                    mig = False
        except pynvml.NVMLError as exc:
            pynvml.nvmlShutdown()
            return cls(None, None, f"GPU {index} not found through NVML ({_nvml_error_text(pynvml, exc)})", False)
        return cls(pynvml, handle, None, mig)

    def _utilisation(self) -> float:
        """The mean of NVML's utilisation samples since the last read (NVML
        keeps a few seconds of them); the driver's latest figure where it
        keeps none."""
        nv = self.pynvml
        try:
            _, samples = nv.nvmlDeviceGetSamples(self.handle, nv.NVML_GPU_UTILIZATION_SAMPLES, self._seen_us)
            samples = [s for s in samples if s.timeStamp > self._seen_us]
        except nv.NVMLError:
            samples = []
        if samples:
            self._seen_us = max(s.timeStamp for s in samples)
            return round(sum(s.sampleValue.uiVal for s in samples) / len(samples), 1)
        return float(nv.nvmlDeviceGetUtilizationRates(self.handle).gpu)

    def read(self) -> tuple[dict[str, Optional[float]], dict[str, str]]:
        if self.handle is None:
            return {}, {"gpu": self.reason or "not read"}
        nv = self.pynvml
        figures: dict[str, Optional[float]] = {}
        unread: dict[str, str] = {}

        def memory() -> tuple[float, float]:
            info = nv.nvmlDeviceGetMemoryInfo(self.handle)
            return round(info.used / MB, 1), round(info.total / MB, 1)

        readers = {
            "gpu_util_percent": self._utilisation,
            "gpu_mem": memory,
            "gpu_temp_c": lambda: float(nv.nvmlDeviceGetTemperature(self.handle, nv.NVML_TEMPERATURE_GPU)),
            "gpu_power_w": lambda: round(nv.nvmlDeviceGetPowerUsage(self.handle) / 1000.0, 1),
        }
        for name, reader in readers.items():
            try:
                value = reader()
            except nv.NVMLError as exc:
                why = _nvml_error_text(nv, exc)
                if self.mig and isinstance(exc, getattr(nv, "NVMLError_NotSupported", ())):
                    why = "MIG slice: NVML does not report it per slice"
                names = ("gpu_mem_used_mb", "gpu_mem_total_mb") if name == "gpu_mem" else (name,)
                for n in names:
                    figures[n] = None
                    unread[n] = why
                continue
            if name == "gpu_mem":
                figures["gpu_mem_used_mb"], figures["gpu_mem_total_mb"] = value
            else:
                figures[name] = value
        return figures, unread

    def close(self) -> None:
        if self.handle is not None:
            try:
                self.pynvml.nvmlShutdown()
            except self.pynvml.NVMLError:
                pass
            self.handle = None


def _handle(pynvml: Any, index: int) -> Any:
    """NVML's handle of the GPU that CUDA calls `index`. CUDA_VISIBLE_DEVICES
    may name GPUs (or MIG slices) by UUID or renumber them, and CUDA's own
    order may differ from NVML's: a UUID in the variable is asked for by
    UUID, else the PCI bus id CUDA reports, else NVML's index."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if index < len(visible) and visible[index].startswith(("GPU-", "MIG-")):
        return pynvml.nvmlDeviceGetHandleByUUID(visible[index])
    bus_id = _pci_bus_id(index)
    if bus_id is not None:
        try:
            return pynvml.nvmlDeviceGetHandleByPciBusId(bus_id)
        except pynvml.NVMLError:
            pass
    if index < len(visible) and visible[index].isdigit():
        return pynvml.nvmlDeviceGetHandleByIndex(int(visible[index]))
    return pynvml.nvmlDeviceGetHandleByIndex(index)


def _pci_bus_id(index: int) -> Optional[str]:
    """The PCI bus id torch reports for CUDA device `index` (None without CUDA)."""
    torch = sys.modules.get("torch")  # only if the process uses torch already: never imported for this
    try:
        if torch is None or not torch.cuda.is_available():
            return None
        props = torch.cuda.get_device_properties(index)
        return f"{props.pci_domain_id:08X}:{props.pci_bus_id:02X}:{props.pci_device_id:02X}.0"
    except (AttributeError, RuntimeError, AssertionError):
        return None


# ---- summaries -------------------------------------------------------------------
def summarise(records: Iterable[EpochRecord], gpu_reason: Optional[str] = None) -> Optional[dict[str, Any]]:
    """What a run's epoch records say about the machine: mean CPU load,
    peak RSS, mean GPU utilisation, peak GPU memory (of its total), peak
    temperature, mean power; each None where no epoch read it. `gpu_reason`:
    why the GPU figures are missing (kept as `gpu_unread`). None when no
    epoch holds a figure and there is no reason to give."""
    rows = list(records)

    def values(name: str) -> list[float]:
        return [getattr(r, name) for r in rows if getattr(r, name) is not None]

    def mean(name: str) -> Optional[float]:
        found = values(name)
        return round(sum(found) / len(found), 1) if found else None

    def peak(name: str) -> Optional[float]:
        found = values(name)
        return max(found) if found else None

    summary = {
        "cpu_percent_mean": mean("cpu_percent"), "rss_mb_peak": peak("rss_mb"),
        "gpu_util_percent_mean": mean("gpu_util_percent"), "gpu_mem_used_mb_peak": peak("gpu_mem_used_mb"),
        "gpu_mem_total_mb": peak("gpu_mem_total_mb"), "gpu_temp_c_peak": peak("gpu_temp_c"),
        "gpu_power_w_mean": mean("gpu_power_w"),
        "epochs_sampled": sum(any(getattr(r, n) is not None for n in SYSTEM_FIELDS) for r in rows),
    }
    if gpu_reason:
        summary["gpu_unread"] = gpu_reason
    if not summary["epochs_sampled"] and not gpu_reason:
        return None
    return summary


def summary_rows(summary: Optional[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(item, value) rows of a summary for the report and the console."""
    if not summary:
        return []

    def show(value: Any, unit: str, digits: int = 0) -> str:
        return "not read" if value is None else f"{value:.{digits}f}{unit}"

    rows = [("CPU load, mean (all cores)", show(summary.get("cpu_percent_mean"), "%")),
            ("process memory (RSS), peak", show(summary.get("rss_mb_peak"), " MB"))]
    gpu = [("GPU utilisation, mean", show(summary.get("gpu_util_percent_mean"), "%")),
           ("GPU memory used, peak", show(summary.get("gpu_mem_used_mb_peak"), " MB")
            + (f" of {summary['gpu_mem_total_mb']:.0f} MB" if summary.get("gpu_mem_total_mb") else "")),
           ("GPU temperature, peak", show(summary.get("gpu_temp_c_peak"), " °C")),
           ("GPU power, mean", show(summary.get("gpu_power_w_mean"), " W"))]
    if any(summary.get(k) is not None for k in ("gpu_util_percent_mean", "gpu_mem_used_mb_peak",
                                                  "gpu_temp_c_peak", "gpu_power_w_mean")):
        rows += gpu
    if summary.get("gpu_unread"):
        rows.append(("GPU figures", str(summary["gpu_unread"])))
    return rows


def summary_line(summary: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The summary in one line for a headless run's closing output."""
    rows = summary_rows(summary)
    if not rows:
        return None
    return "; ".join(f"{item} {value}" for item, value in rows)


def timed_sample_cost(sampler: SystemSampler, n: int = 100) -> float:
    """Seconds one `sample()` takes, the mean of n (bench/gpu_checks.sh reports it)."""
    started = time.perf_counter()
    for _ in range(n):
        sampler.sample()
    return (time.perf_counter() - started) / n

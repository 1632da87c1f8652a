"""The Train screen's line about the machine: CPU load and the training
process's memory, and on a CUDA device the GPU's utilisation, memory,
temperature and power. A figure that cannot be read shows as "-" with the
reason on the line, never as 0. One line, at most 78 columns (80x24 with
the screen's margins)."""
from __future__ import annotations

from typing import Optional

from lstm_core.api import GPU_FIELDS, NO_NVML, NO_PSUTIL, SystemSample

from .info import InfoLine

WIDTH = 78
SHORT_NAMES = {"gpu_util_percent": "util", "gpu_mem_used_mb": "mem", "gpu_mem_total_mb": "mem",
               "gpu_temp_c": "temp", "gpu_power_w": "power"}


def short_reason(reason: str) -> str:
    """A reason as the line has room for: its words before the first ':'
    (the sampler's reasons start with what happened, then the detail)."""
    if reason == NO_NVML:
        return "needs nvidia-ml-py (pip install 'freq-lstm[gpu]')"
    if reason == NO_PSUTIL:
        return "needs psutil (pip install psutil)"
    head = reason.split(":")[0].split(" (")[0].strip()
    return head if len(head) <= 40 else head[:39] + "…"


def _size(mb: Optional[float]) -> str:
    if mb is None:
        return "-"
    return f"{mb:.0f} MB" if mb < 1024 else f"{mb / 1024:.1f} GB"


def _number(value: Optional[float], unit: str) -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def format_sample(sample: Optional[SystemSample], note: str = "") -> str:
    """The line: `CPU 43%  RSS 512 MB  GPU 87%  3.0/80.0 GB  64°C  212 W`."""
    if sample is None:
        return "CPU -  RSS -  (looking)"
    cpu_reason = sample.unread.get("cpu")
    if cpu_reason:
        parts = [f"CPU, RSS: {short_reason(cpu_reason)}"]
    else:
        rss = _size(sample.rss_mb) if sample.rss_mb is not None or "rss_mb" not in sample.unread else \
            f"- ({short_reason(sample.unread['rss_mb'])})"
        parts = [f"CPU {_number(sample.cpu_percent, '%')}", f"RSS {rss}"]
    if sample.on_gpu:
        if "gpu" in sample.unread:
            parts.append(f"GPU: {short_reason(sample.unread['gpu'])}")
        else:
            used, total = sample.gpu_mem_used_mb, sample.gpu_mem_total_mb
            memory = "-" if used is None else (f"{used / 1024:.1f}/{total / 1024:.1f} GB" if total else _size(used))
            parts.append(f"GPU {_number(sample.gpu_util_percent, '%')}  {memory}  "
                         f"{_number(sample.gpu_temp_c, '°C')}  {_number(sample.gpu_power_w, ' W')}")
            missing = {}
            for name in GPU_FIELDS:
                if getattr(sample, name) is None:
                    missing.setdefault(short_reason(sample.unread.get(name, "not read")), []).append(SHORT_NAMES[name])
            for why, names in missing.items():
                parts.append(f"({', '.join(dict.fromkeys(names))}: {why})")
    text = "  ".join(parts) + (f"  {note}" if note else "")
    return text if len(text) <= WIDTH else text[:WIDTH - 1] + "…"


class SystemLine(InfoLine):
    """Shows a SystemSample; repaints only when its text changes."""

    def show(self, sample: Optional[SystemSample], note: str = "") -> None:
        self.text = format_sample(sample, note)

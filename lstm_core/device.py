"""Pick the training device, and check that this machine can run a config
there before anything is written."""
from __future__ import annotations

import os

import torch

from .config import RunConfig, memory_estimate
from .errors import ConfigError, UserError


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu. An explicit device that this
    machine lacks is a ConfigError, never a silent fallback. (Which names are
    valid at all is a rule of the `device` field in config.py.)"""
    name = name.strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device", "cuda was asked for but no CUDA GPU is available (try --device auto or cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError("device", f"{name} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type == "mps" and not mps_ok:
        raise ConfigError("device", "mps was asked for but is not available on this machine")
    return device


def available_memory() -> dict[str, int]:
    """Bytes free for a run: 'host' (MemAvailable, else physical memory) and,
    on CUDA machines, 'cuda:N' for each GPU. Unknown amounts are left out."""
    found: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    found["host"] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if "host" not in found:
        try:
            found["host"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            pass
    return found


def _device_free(device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    try:
        return int(torch.cuda.mem_get_info(device)[0])
    except RuntimeError:
        return None


def check_environment(config: RunConfig, train: bool = True) -> torch.device:
    """Everything about this machine a run depends on, checked before a run
    directory exists: the device is present, the training precision works
    on it (`train`; evaluation is always fp32), and data + model +
    evaluation fit in its memory. Returns the device; raises a UserError
    naming the field."""
    from .precision import unsupported_reason

    device = resolve_device(config.device)
    why = unsupported_reason(config.precision, device) if train else None
    if why is not None:
        raise ConfigError("precision", f"{config.precision} cannot train on {device} here ({why}); use fp32")
    need = memory_estimate(config)
    free = available_memory()
    pools = [("host", free.get("host"), need["host"])]
    if device.type == "cuda":
        pools.append((str(device), _device_free(device), need["device"]))
    for where, have, wanted in pools:
        if have is not None and wanted > have:
            parts = ", ".join(f"{k} {_gb(v)}" for k, v in need.items() if k not in ("host", "device"))
            raise UserError("config", f"needs about {_gb(wanted)} of memory on {where} ({parts}); "
                                      f"{_gb(have)} is available (try a smaller duration, hidden_size or "
                                      "number of frequencies)")
    return device


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB"


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)

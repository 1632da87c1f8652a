"""Pick the training device."""
from __future__ import annotations

import torch

from .errors import ConfigError


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


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)

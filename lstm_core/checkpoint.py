"""Checkpoints: weights, config, library versions and (for resuming) the
training state, saved atomically and loaded with weights_only=True."""
from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from . import __version__
from .config import RunConfig, build_config
from .errors import ConfigError, UserError
from .files import atomic_write_bytes
from .models import architecture, build_model

FORMAT = "freq-lstm-checkpoint"


def library_versions() -> dict[str, str]:
    return {"freq_lstm": str(__version__), "torch": str(torch.__version__), "numpy": str(np.__version__)}


def save_checkpoint(
    path: Path,
    *,
    model: torch.nn.Module,
    config: RunConfig,
    n_frequencies: int,
    epoch: int,
    training_state: Optional[dict[str, Any]] = None,
) -> None:
    payload = {
        "format": FORMAT,
        "config": config.to_dict(),
        "architecture": architecture(config, n_frequencies),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "epoch": epoch,
        "versions": library_versions(),
        "training_state": training_state or {},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint without unpickling arbitrary objects. Anything that
    is not a freq-lstm checkpoint gives a UserError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(str(path), "checkpoint file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError,
            struct.error) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else exc.__class__.__name__
        raise UserError(str(path), f"not a readable checkpoint ({first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(str(path), "not a freq-lstm checkpoint")
    return payload


def config_of(payload: dict[str, Any], path: str | Path = "checkpoint") -> RunConfig:
    try:
        return build_config(payload["config"])
    except ConfigError as exc:
        raise UserError(str(path), f"holds an invalid config ({exc})") from None


def model_from_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, RunConfig, dict]:
    payload = load_checkpoint(path)
    config = config_of(payload, path)
    n_frequencies = int(payload["architecture"]["n_frequencies"])
    model = build_model(config, n_frequencies)
    try:
        model.load_state_dict(payload["model_state"])
    except RuntimeError:
        raise UserError(str(path), "weights do not match the architecture its config describes") from None
    return model.to(device), config, payload

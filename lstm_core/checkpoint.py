"""Checkpoints: weights, config, library versions and (for resuming) the
training state, saved atomically and loaded with weights_only=True."""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from . import __version__
from .config import MAX_FREQUENCIES, RunConfig, build_config
from .errors import ConfigError, UserError, echo
from .files import MAX_CHECKPOINT_BYTES, atomic_write_bytes, open_regular
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
    model_state: Optional[dict[str, torch.Tensor]] = None,
) -> None:
    """`model_state` (default: the model's own) lets best weights kept aside
    be written without loading them into the model."""
    weights = model.state_dict() if model_state is None else model_state
    payload = {
        "format": FORMAT,
        "config": config.to_dict(),
        "architecture": architecture(config, n_frequencies),
        "model_state": {k: v.detach().cpu() for k, v in weights.items()},
        "epoch": epoch,
        "versions": library_versions(),
        "training_state": training_state or {},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


# What load_checkpoint insists on before anything else reads a payload.
PAYLOAD_TYPES = {"config": dict, "architecture": dict, "model_state": dict, "epoch": int, "training_state": dict}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint without unpickling arbitrary objects. Anything that
    is not a freq-lstm checkpoint gives a UserError naming the file."""
    path = Path(path)
    try:
        with open_regular(path, "checkpoint file", MAX_CHECKPOINT_BYTES) as handle:
            payload = torch.load(handle, map_location="cpu", weights_only=True)
    except UserError:
        raise
    except pickle.UnpicklingError as exc:
        # weights_only=True refuses any object that is not a tensor or plain
        # data, so a file that would run code when unpickled stops here.
        if "GLOBAL" in str(exc):
            raise UserError(str(path), "holds objects other than tensors and plain data; "
                                       "refused (never unpickled)") from None
        raise UserError(str(path), "not a readable checkpoint (not a PyTorch file, or damaged)") from None
    except Exception as exc:  # a truncated, corrupt or foreign file can fail in many ways
        text = str(exc).strip()
        first = text.splitlines()[0][:120] if text else exc.__class__.__name__
        raise UserError(str(path), f"not a readable checkpoint ({first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(str(path), "not a freq-lstm checkpoint")
    for key, kind in PAYLOAD_TYPES.items():
        if not isinstance(payload.get(key), kind) or isinstance(payload.get(key), bool):
            raise UserError(str(path), f"damaged freq-lstm checkpoint ('{key}' is missing or not a {kind.__name__})")
    n_frequencies = payload["architecture"].get("n_frequencies")
    if not isinstance(n_frequencies, int) or isinstance(n_frequencies, bool):
        raise UserError(str(path), "damaged freq-lstm checkpoint (no frequency count)")
    if not 1 <= n_frequencies <= MAX_FREQUENCIES:
        raise UserError(str(path), f"damaged freq-lstm checkpoint (it records {echo(n_frequencies)} frequencies; "
                                   f"a model has 1 to {MAX_FREQUENCIES})")
    if not all(isinstance(v, torch.Tensor) for v in payload["model_state"].values()):
        raise UserError(str(path), "damaged freq-lstm checkpoint (weights are not all tensors)")
    return payload


def check_matches(payload: dict[str, Any], config: RunConfig, path: str | Path, config_path: str | Path,
                  ignore: tuple[str, ...] = ()) -> None:
    """Refuse a checkpoint written for another configuration than `config`,
    naming the first settings that differ (architecture first); settings
    named in `ignore` may differ."""
    expected = architecture(config, int(payload["architecture"]["n_frequencies"]))
    if len(config.frequencies) != expected["n_frequencies"]:
        raise UserError(str(path), f"was written for {expected['n_frequencies']} frequencies, "
                                   f"{config_path} has {len(config.frequencies)}")
    wrong = [k for k in expected if payload["architecture"].get(k) != expected[k]]
    if wrong:
        detail = ", ".join(f"{k} {payload['architecture'].get(k)} vs {expected[k]}" for k in wrong)
        raise UserError(str(path), f"architecture does not match {config_path} ({detail})")
    saved = config_of(payload, path).to_dict()
    differ = [k for k, v in config.to_dict().items() if saved.get(k) != v and k not in ignore]
    if differ:
        raise UserError(str(path), f"was written with other settings than {config_path} ({', '.join(differ)})")


def config_of(payload: dict[str, Any], path: str | Path = "checkpoint") -> RunConfig:
    try:
        return build_config(payload["config"])
    except ConfigError as exc:
        raise UserError(str(path), f"holds an invalid config ({exc})") from None


def model_from_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, RunConfig, dict]:
    """The model a checkpoint holds. Its config and architecture record are
    checked against each other before a model is built, so an absurd record
    is refused instead of allocated."""
    payload = load_checkpoint(path)
    config = config_of(payload, path)
    n_frequencies = payload["architecture"]["n_frequencies"]
    if n_frequencies != len(config.frequencies) or payload["architecture"] != architecture(config, n_frequencies):
        raise UserError(str(path), "its architecture record does not match the config it holds")
    model = build_model(config, n_frequencies)
    try:
        model.load_state_dict(payload["model_state"])
    except (RuntimeError, KeyError, ValueError, TypeError):
        raise UserError(str(path), "weights do not match the architecture its config describes") from None
    return model.to(device), config, payload

"""The waveform preview of a run another process trains: a live run sends
its preview with each epoch, a followed one has only its files, so it is
computed from last.pt on the validation window the trainer previews."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from . import feeding
from .checkpoint import model_from_checkpoint
from .data import generate_for
from .errors import UserError
from .events import Preview
from .rundir import LAST


def checkpoint_preview(run_dir: str | Path) -> Optional[Preview]:
    """Model output vs target on the start of the validation stream, from
    last.pt (written atomically, so never half a file). None when there is no
    checkpoint yet or it cannot be read."""
    last = Path(run_dir) / LAST
    if not last.is_file():
        return None
    try:
        model, config, _ = model_from_checkpoint(last, "cpu")
    except UserError:
        return None
    val = generate_for(config, config.val_seed)
    n = Preview.length(val.n_samples, val.fs)
    inputs, _ = val.streams()
    with torch.no_grad():
        output = feeding.predict(model, config, torch.from_numpy(inputs[:, :n])).cpu().numpy()
    return Preview.window(val.t, output, val.targets, val.fs)

"""Following a run that another process (a headless `freq-tui train`) writes.

metrics.jsonl and status.json give the losses and the state; the waveform
preview the app's own worker sends is not on disk, so it is recomputed from
the run's last.pt on the validation window the trainer previews. Runs on a
thread worker; headless: no Textual here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from lstm_core import feeding
from lstm_core.checkpoint import model_from_checkpoint
from lstm_core.data import generate_for
from lstm_core.errors import UserError
from lstm_core.events import Preview


def checkpoint_preview(run_dir: str | Path) -> Optional[Preview]:
    """Model output vs target on the start of the validation stream, from
    last.pt (written atomically, so never half a file). None when there is no
    checkpoint yet or it cannot be read."""
    last = Path(run_dir) / "last.pt"
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

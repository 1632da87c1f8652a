"""The network. The `stateful` and `sequence` models share it: they differ in
how data is fed and how state is carried (see `feeding.py`), not in weights.

State is passed in and returned explicitly; the module keeps none, so there is
no hidden per-module state to forget to reset.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .config import RunConfig

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, batch, hidden)


class FrequencyLSTM(nn.Module):
    """Input [S[t], one-hot C] per step, output the selected pure sinusoid."""

    def __init__(self, n_frequencies: int, hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.n_frequencies = n_frequencies
        self.lstm = nn.LSTM(
            input_size=1 + n_frequencies,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, state: Optional[State] = None) -> tuple[torch.Tensor, State]:
        """x: (batch, steps, 1 + K). Returns outputs (batch, steps) and the
        state after the last step. `state=None` is the reset (zeros)."""
        out, state = self.lstm(x, state)
        return self.head(out).squeeze(-1), state


def build_model(config: RunConfig, n_frequencies: int) -> nn.Module:
    return FrequencyLSTM(n_frequencies, config.hidden_size, config.num_layers, config.dropout)


def architecture(config: RunConfig, n_frequencies: int) -> dict:
    """What must match for a checkpoint's weights to load."""
    return {
        "model": config.model,
        "n_frequencies": n_frequencies,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
    }

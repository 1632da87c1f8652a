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

    def __init__(self, n_frequencies: int, hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0,
                 learned_init_state: bool = False, chrono_init: int = 0):
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
        if chrono_init > 1:
            chrono_initialise(self.lstm, chrono_init)
        # The state the reset sets: zeros, or learned (shared by all streams;
        # the one-hot C input tells the streams apart from the first step).
        self.h0 = self.c0 = None
        if learned_init_state:
            self.h0 = nn.Parameter(torch.zeros(num_layers, 1, hidden_size))
            self.c0 = nn.Parameter(torch.zeros(num_layers, 1, hidden_size))

    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        """The state at the reset (t = 0) for `batch` streams."""
        if self.h0 is None:
            zeros = like.new_zeros(self.lstm.num_layers, batch, self.lstm.hidden_size)
            return zeros, zeros
        return self.h0.expand(-1, batch, -1).contiguous(), self.c0.expand(-1, batch, -1).contiguous()

    def forward(self, x: torch.Tensor, state: Optional[State] = None) -> tuple[torch.Tensor, State]:
        """x: (batch, steps, 1 + K). Returns outputs (batch, steps) and the
        state after the last step. `state=None` is the reset (zeros)."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        out, state = self.lstm(x, state)
        return self.head(out).squeeze(-1), state


def chrono_initialise(lstm: nn.LSTM, max_steps: int) -> None:
    """Chrono initialisation (Tallec & Ollivier 2018): forget-gate biases
    log(U(1, max_steps - 1)) and input-gate biases their negative, so the
    cells start out remembering over time scales up to `max_steps` steps
    instead of a few. PyTorch orders the gate biases i, f, g, o."""
    hidden = lstm.hidden_size
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            b_ih, b_hh = getattr(lstm, f"bias_ih_l{layer}"), getattr(lstm, f"bias_hh_l{layer}")
            forget = torch.log(torch.empty(hidden).uniform_(1.0, max(max_steps - 1, 1.0 + 1e-6)))
            b_ih[hidden : 2 * hidden] = forget
            b_hh[hidden : 2 * hidden] = 0.0
            b_ih[:hidden] = -forget
            b_hh[:hidden] = 0.0


def build_model(config: RunConfig, n_frequencies: int) -> nn.Module:
    return FrequencyLSTM(n_frequencies, config.hidden_size, config.num_layers, config.dropout,
                         learned_init_state=config.learned_init_state, chrono_init=config.chrono_init)


def architecture(config: RunConfig, n_frequencies: int) -> dict:
    """What must match for a checkpoint's weights to load."""
    return {
        "model": config.model,
        "n_frequencies": n_frequencies,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "learned_init_state": config.learned_init_state,
    }

"""The networks. The `stateful` and `sequence` models share `FrequencyLSTM`:
they differ in how data is fed and how state is carried (see `feeding.py`),
not in weights. `attention` (guide 8.1) and `multitask` (guide 8.3) are the
guide's extensions, each its own module below.

State is passed in and returned explicitly; the module keeps none, so there is
no hidden per-module state to forget to reset.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .config import RunConfig

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, batch, hidden)


def make_lstm(input_size: int, hidden_size: int, num_layers: int, dropout: float) -> nn.LSTM:
    """The recurrent core every model shares. PyTorch applies dropout only
    between stacked layers, so a single layer gets none."""
    return nn.LSTM(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                   dropout=dropout if num_layers > 1 else 0.0, batch_first=True)


class FrequencyLSTM(nn.Module):
    """Input [S[t], one-hot C] per step, output the selected pure sinusoid."""

    def __init__(self, n_frequencies: int, hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.n_frequencies = n_frequencies
        self.lstm = make_lstm(1 + n_frequencies, hidden_size, num_layers, dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, state: Optional[State] = None) -> tuple[torch.Tensor, State]:
        """x: (batch, steps, 1 + K). Returns outputs (batch, steps) and the
        state after the last step. `state=None` is the reset (zeros)."""
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


class AttentionLSTM(nn.Module):
    """Input [S[t], one-hot C] per step; the output at step t attends over
    the hidden states of steps 0..t of the same call (a window of L).

    Scores come from each hidden state alone, as in the guide's 8.1:
    e_s = v . tanh(W h_s). The weights are causal, a_ts = softmax over s <= t
    of e_s, so no output ever sees a later sample. The output is
    y_t = head([h_t ; sum_s a_ts h_s]): the current state plus the attended
    context (Luong-style), so the model can still follow the present sample.
    """

    def __init__(self, n_frequencies: int, hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.n_frequencies = n_frequencies
        self.lstm = make_lstm(1 + n_frequencies, hidden_size, num_layers, dropout)
        self.score = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(), nn.Linear(hidden_size, 1))
        self.head = nn.Linear(2 * hidden_size, 1)

    def attention_weights(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (batch, steps, H) -> causal weights (batch, steps, steps),
        row t summing to 1 over columns 0..t and zero after t."""
        steps = hidden.shape[1]
        scores = self.score(hidden).squeeze(-1)  # (batch, steps): one score per hidden state
        future = torch.ones(steps, steps, dtype=torch.bool, device=hidden.device).triu(diagonal=1)
        return torch.softmax(scores[:, None, :].masked_fill(future, float("-inf")), dim=-1)

    def forward(self, x: torch.Tensor, state: Optional[State] = None) -> tuple[torch.Tensor, State]:
        """x: (batch, steps, 1 + K). Returns outputs (batch, steps) and the
        state after the last step. Memory grows as steps**2 per row."""
        hidden, state = self.lstm(x, state)
        context = self.attention_weights(hidden) @ hidden  # (batch, steps, H)
        return self.head(torch.cat([hidden, context], dim=-1)).squeeze(-1), state


class MultiTaskLSTM(nn.Module):
    """Input S[t] alone (no selector); one linear head per frequency, so one
    pass gives all K components: outputs (batch, steps, K)."""

    def __init__(self, n_frequencies: int, hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.n_frequencies = n_frequencies
        self.lstm = make_lstm(1, hidden_size, num_layers, dropout)
        self.head = nn.Linear(hidden_size, n_frequencies)  # the guide's K heads of size 1, as one matrix

    def forward(self, x: torch.Tensor, state: Optional[State] = None) -> tuple[torch.Tensor, State]:
        """x: (batch, steps, 1). Returns outputs (batch, steps, K) and the
        state after the last step."""
        out, state = self.lstm(x, state)
        return self.head(out), state


MODELS = {"stateful": FrequencyLSTM, "sequence": FrequencyLSTM, "attention": AttentionLSTM, "multitask": MultiTaskLSTM}


def build_model(config: RunConfig, n_frequencies: int) -> nn.Module:
    model = MODELS[config.model](n_frequencies, config.hidden_size, config.num_layers, config.dropout)
    if config.chrono_init > 1:
        chrono_initialise(model.lstm, config.chrono_init)
    return model


def architecture(config: RunConfig, n_frequencies: int) -> dict:
    """What must match for a checkpoint's weights to load."""
    return {
        "model": config.model,
        "n_frequencies": n_frequencies,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
    }

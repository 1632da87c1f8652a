"""Weight averaging: an exponential moving average (EMA) of a model's
parameters, updated after every optimiser step,

    average <- ema_decay * average + (1 - ema_decay) * weights,

starting from the initial weights. With it a run validates, keeps as its
best and evaluates the averaged weights; the optimiser trains the raw ones."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.names = [name for name, _ in model.named_parameters()]
        self.params = [param for _, param in model.named_parameters()]
        self.average = [param.detach().clone() for param in self.params]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.average, [param.detach() for param in self.params], 1.0 - self.decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The averaged weights in the model for the block, the trained ones after it."""
        with torch.no_grad():
            trained = [param.detach().clone() for param in self.params]
            torch._foreach_copy_(self.params, self.average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, trained)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: value.clone() for name, value in zip(self.names, self.average)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, value in zip(self.names, self.average):
                value.copy_(state[name])

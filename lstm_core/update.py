"""One optimizer update from a forward pass's output. The eager loop and the
CUDA-graph path (cuda_graph.py) both make their updates here."""
from __future__ import annotations

import torch
from torch import nn


def apply_update(model: nn.Module, optimizer: torch.optim.Optimizer, output: torch.Tensor, target: torch.Tensor,
                 grad_clip: float, *, set_to_none: bool = True) -> torch.Tensor:
    """MSE, backward, gradient-norm clipping (0 = off), one optimizer step.
    Returns the detached loss, still on the device: reading it would wait
    for the GPU, so callers read it only at progress intervals.

    `set_to_none=False` zeroes the gradients in place, so that their tensors
    stay the ones a CUDA graph writes into."""
    loss = nn.functional.mse_loss(output, target)
    optimizer.zero_grad(set_to_none=set_to_none)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach()

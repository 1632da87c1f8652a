"""Chunk updates replayed from a CUDA graph.

On a GPU one chunk update of the small default model (32 steps, 4 streams,
hidden 64) is a few hundred tiny kernels, and launching them, plus cuDNN's
per-call set-up on the host, takes far longer than the GPU needs to run
them: on an H200 the eager training pass took 0.58 s, the same updates
replayed from a graph 0.053 s. So the whole update (forward over the
chunk, loss, backward, clipping, the fused Adam step) is captured once and
replayed for every chunk, with the chunk and the carried state copied into
fixed input tensors. It is the same arithmetic in the same order: the
parameters after three epochs were bit-identical to the eager loop's
(tests/test_cuda.py checks it on every GPU it runs on).

Used for the chunk-fed models (`feeding.Feeding.CHUNKS`) on CUDA, unless
`cuda_graphs = false`. Not for bf16 autocast or dropout (random masks),
which stay eager (`unsupported_reason`).
"""
from __future__ import annotations

from typing import Iterator, Optional

import torch

from .config import RunConfig
from .feeding import Feeding, feeding_of
from .update import apply_update



def unsupported_reason(config: RunConfig, device: torch.device) -> Optional[str]:
    """Why training on `device` takes the eager loop; None when graphs apply."""
    if device.type != "cuda":
        return "CUDA graphs need a CUDA device"
    if not config.cuda_graphs:
        return "cuda_graphs is off"
    if feeding_of(config) is not Feeding.CHUNKS:
        return "only chunk-fed training (truncated BPTT over consecutive chunks) is captured"
    if config.precision == "bf16":
        return "bf16 autocast stays eager"
    if config.num_layers > 1 and config.dropout > 0:
        return "dropout draws random masks"
    return None


class GraphedChunkUpdates:
    """The updates of one epoch of chunk-fed training, each a graph replay.

    The graph holds these very tensors: the parameters, their gradients and
    the optimizer state are only ever changed in place while it lives. The
    optimizer must be built with `capturable=True`."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, grad_clip: float):
        self.model, self.optimizer, self.grad_clip = model, optimizer, grad_clip
        self.graph: Optional[torch.cuda.CUDAGraph] = None
        self.shape: Optional[tuple] = None  # of the chunk the graph was captured for
        self.captured_lrs: Optional[list[float]] = None

    def updates(self, inputs: torch.Tensor, targets: torch.Tensor, chunk: int) -> Iterator[torch.Tensor]:
        """One epoch over (streams, steps, features) `inputs`: full chunks
        replayed from the graph, a shorter last chunk eagerly. Each state
        starts from the reset (zeros) at t = 0 and is carried, detached, from
        chunk to chunk. Yields each update's loss, detached; a yielded loss is
        overwritten by the next update: use it (enqueue work on it) before
        asking for the next."""
        n_steps = inputs.shape[1]
        full = (n_steps // chunk) * chunk
        if full:
            if self.shape != tuple(inputs[:, :chunk].shape):
                self._prepare(inputs[:, :chunk], targets[:, :chunk])
            elif self.captured_lrs != self._lrs():
                self._capture()  # the learning rate is a constant inside the graph
            self.h.zero_()  # the reset at t = 0 of every stream
            self.c.zero_()
        for start in range(0, full, chunk):
            self.x.copy_(inputs[:, start : start + chunk])
            self.y.copy_(targets[:, start : start + chunk])
            self.graph.replay()
            self.h.copy_(self.h_out)
            self.c.copy_(self.c_out)
            yield self.loss
        if full < n_steps:
            state = (self.h, self.c) if full else None  # None: the model's own reset
            out, _ = self.model(inputs[:, full:], state)
            yield apply_update(self.model, self.optimizer, out, targets[:, full:], self.grad_clip, set_to_none=False)

    # ---- set-up -------------------------------------------------------------
    def _lrs(self) -> list[float]:
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def _update(self) -> tuple[torch.Tensor, ...]:
        out, (h, c) = self.model(self.x, (self.h, self.c))
        loss = apply_update(self.model, self.optimizer, out, self.y, self.grad_clip, set_to_none=False)
        return loss, out.detach(), h.detach(), c.detach()

    def _prepare(self, x_chunk: torch.Tensor, y_chunk: torch.Tensor) -> None:
        lstm = self.model.lstm
        self.x, self.y = torch.zeros_like(x_chunk), torch.zeros_like(y_chunk)
        state_shape = (lstm.num_layers, x_chunk.shape[0], lstm.hidden_size)
        self.h, self.c = x_chunk.new_zeros(state_shape), x_chunk.new_zeros(state_shape)
        self._warm_up()
        self._capture()
        self.shape = tuple(x_chunk.shape)

    def _warm_up(self) -> None:
        """cuDNN, cuBLAS and the optimizer allocate on first use, which a
        capture must not contain. Two updates on a side stream do that; they
        are then undone in place, so that training starts from exactly the
        weights and optimizer state it had (a fresh Adam state is zeros)."""
        saved_params = [p.detach().clone() for p in self.model.parameters()]
        saved_state = {id(value): value.clone() for per_param in self.optimizer.state.values()
                       for value in per_param.values() if torch.is_tensor(value)}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self._update()
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for param, saved in zip(self.model.parameters(), saved_params):
                param.copy_(saved)
            for per_param in self.optimizer.state.values():
                for value in per_param.values():
                    if torch.is_tensor(value):
                        saved = saved_state.get(id(value))
                        value.copy_(saved) if saved is not None else value.zero_()

    def _capture(self) -> None:
        self.graph = None  # free the previous graph's memory first
        graph = torch.cuda.CUDAGraph()
        # thread_local: the app trains in a worker thread while its UI thread runs
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self.loss, self.out, self.h_out, self.c_out = self._update()
        self.graph = graph
        self.captured_lrs = self._lrs()

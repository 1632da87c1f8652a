"""How each model type is fed: which steps an update sees and where state is
carried or reset. Modelled on pytorch/examples word_language_model: the
streams are the batch dimension, time is cut into chunks, and the state is
detached between chunks.

A stream is one frequency's whole sequence, [S[t], one-hot C] for t = 0..N-1.
Every stream starts at t = 0, so the only reset is the `state = None` before
the first chunk: state can never jump between rows of a batch or across a
frequency boundary, because each batch row *is* one stream from start to end.

The multitask model has one stream only, S alone with all K targets: it is
cut from the same (K, N, 1+K) inputs here, so callers feed every model alike
and always get predictions of shape (K, N) back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterator, Optional

import torch

from .config import WINDOW_MODELS, RunConfig
from .models import FrequencyLSTM, MultiTaskLSTM, State
from .precision import full_precision

Batch = tuple[torch.Tensor, torch.Tensor]  # (model outputs with grad, targets)


def detach(state: Optional[State]) -> Optional[State]:
    return None if state is None else (state[0].detach(), state[1].detach())


class Feeding(Enum):
    """How training cuts the streams into updates."""

    WINDOWS = "windows"  # sequence/attention: shuffled windows of L, reset per window
    CHUNKS = "chunks"  # truncated BPTT over consecutive chunks, state carried (detached)
    ONE_STEP = "one_step"  # the guide's L = 1: each step backpropagates through itself only
    FULL_BPTT = "full_bptt"  # stateful: the whole trained prefix from the reset, one graph


def feeding_of(config: RunConfig) -> Feeding:
    """The one place that reads model, carry_state and truncation to decide it."""
    if config.model in WINDOW_MODELS and not config.carry_state:
        return Feeding.WINDOWS
    if config.model == "stateful" and config.truncation == "full":
        return Feeding.FULL_BPTT
    if config.model in ("stateful", "multitask") and config.truncation == "step":
        return Feeding.ONE_STEP
    return Feeding.CHUNKS


def chunk_length(config: RunConfig) -> int:
    """Time steps per update for the models that carry state along a stream."""
    return config.sequence_length if config.model in WINDOW_MODELS else config.batch_size


def multitask_stream(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, N, 1+K) inputs and (K, N) targets -> the multitask model's single
    stream: S alone (1, N, 1) and all targets at once (1, N, K). Every row of
    `inputs` carries the same S, so the first is taken."""
    return inputs[:1, :, :1], targets.T.unsqueeze(0)


def add_input_noise(inputs: torch.Tensor, snr_db: float, generator: torch.Generator) -> torch.Tensor:
    """S plus white Gaussian noise at `snr_db` (guide 8.2): noise power =
    mean(S**2) / 10**(snr_db / 10). One fresh draw per call (per epoch), the
    same draw in every stream since they all carry the same S. 0 = off."""
    if not snr_db:
        return inputs
    S = inputs[0, :, 0]
    noise_std = torch.sqrt(S.pow(2).mean() / 10 ** (snr_db / 10))
    noise = torch.randn(S.shape, generator=generator, dtype=S.dtype).to(S.device)
    noisy = inputs.clone()
    noisy[:, :, 0] += noise_std * noise
    return noisy


def batches_per_epoch(config: RunConfig, n_streams: int, n_samples: int) -> int:
    """Updates in one epoch; `n_samples` is the trained prefix under a curriculum."""
    mode = feeding_of(config)
    if mode is Feeding.WINDOWS:
        n_windows = n_streams * (n_samples // config.sequence_length)
        return math.ceil(n_windows / config.batch_size)
    if mode is Feeding.FULL_BPTT:
        return config.updates_per_epoch
    return math.ceil(n_samples / chunk_length(config))


def training_streams(config: RunConfig, inputs: torch.Tensor, targets: torch.Tensor, generator: torch.Generator,
                     length: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The streams one epoch trains on (all but full BPTT): this epoch's
    augmentation of S, the multitask model's single stream, and the first
    `length` steps of each (a curriculum)."""
    length = inputs.shape[1] if length is None else length
    inputs = add_input_noise(inputs, config.augment_snr_db, generator)
    if config.model == "multitask":
        inputs, targets = multitask_stream(inputs, targets)
    x, y = shuffled_streams(config, inputs, targets, generator)
    return x[:, :length], y[:, :length]


def train_batches(
    model: torch.nn.Module,
    config: RunConfig,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    generator: torch.Generator,
    length: Optional[int] = None,
) -> Iterator[Batch]:
    """Yield (outputs, targets) for each update of one epoch; the caller does
    the backward pass and the optimizer step between yields. Validation and
    test never pass through here, so augmentation is training-only.

    `length` (a curriculum) limits training to the first `length` steps of
    every stream, from the reset. The augmentations are drawn afresh for
    every pass over the streams: once per epoch, or once per update with
    full BPTT."""
    mode = feeding_of(config)
    if mode is Feeding.FULL_BPTT:
        length = inputs.shape[1] if length is None else length
        inputs = add_input_noise(inputs, config.augment_snr_db, generator)
        for _ in range(config.updates_per_epoch):
            x, y = shuffled_streams(config, inputs, targets, generator)
            yield from _chunk_batches(model, x[:, :length], y[:, :length], length)
        return
    x, y = training_streams(config, inputs, targets, generator, length)
    if mode is Feeding.WINDOWS:
        yield from _window_batches(model, x, y, config.sequence_length, config.batch_size, generator)
    elif mode is Feeding.CHUNKS:
        yield from _chunk_batches(model, x, y, chunk_length(config))
    else:
        yield from _one_step_batches(model, x, y, config.batch_size)


def shuffled_streams(config: RunConfig, inputs: torch.Tensor, targets: torch.Tensor,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The training streams a pass sees: with augment = shuffle_s each
    stream's S replaced by its own random time shuffle of the training S.
    Under the literal noise S is i.i.d. over time, so a shuffle is another
    draw of the same noise built from the seed-1 data alone; the targets stay
    in time order. Without augmentation the streams are returned as they are."""
    if config.augment == "none":
        return inputs, targets
    x = inputs.clone()
    x[..., 0] = shuffle_in_time(x[..., 0], generator)
    return x, targets


def shuffle_in_time(signal: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An independent random permutation of each row of (rows, N): every row
    keeps its multiset of values."""
    keys = torch.rand(signal.shape, generator=generator)
    order = torch.argsort(keys, dim=1).to(signal.device)
    return torch.gather(signal, 1, order)


@dataclass
class Curriculum:
    """The prefix of every stream (steps from the reset) that training sees.
    It starts at `length` and grows by `growth` each time an epoch's train
    loss falls below `threshold`, until it covers the whole stream. Training
    on a short prefix first lets the model learn the start of each waveform
    before it must carry it over thousands of steps."""
    length: int
    total: int
    growth: float
    threshold: float

    @classmethod
    def for_config(cls, config: RunConfig, total: int) -> "Curriculum":
        start = config.curriculum_start if config.curriculum_start > 0 else total
        return cls(min(start, total), total, config.curriculum_growth, config.curriculum_threshold)

    @property
    def complete(self) -> bool:
        return self.length >= self.total

    def update(self, train_loss: float) -> bool:
        """After an epoch: grow if the loss is low enough. True if it grew."""
        if self.complete or not train_loss < self.threshold:
            return False
        self.length = min(self.total, max(self.length + 1, math.ceil(self.length * self.growth)))
        return True


def _chunk_batches(model, inputs, targets, chunk: int) -> Iterator[Batch]:
    """Truncated BPTT along each stream: gradients flow within a chunk, the
    state flows (detached) from one chunk to the next of the same stream."""
    state: Optional[State] = None  # the reset at t = 0 of every stream
    for start in range(0, inputs.shape[1], chunk):
        out, state = model(inputs[:, start : start + chunk], detach(state))
        yield out, targets[:, start : start + chunk]


def reset_state(model, batch: int, like: torch.Tensor) -> State:
    """The state at t = 0: zeros."""
    zeros = like.new_zeros(model.lstm.num_layers, batch, model.lstm.hidden_size)
    return zeros, zeros


def _one_step_batches(model, inputs, targets, chunk: int) -> Iterator[Batch]:
    """The guide's L = 1 gradient: each step's loss backpropagates through
    that step only, from the (detached) state the stream had before it.

    One layer takes the fast path below; deeper models the step-by-step
    gather (`_one_step_batches_stepwise`), which gives the same numbers."""
    if model.lstm.num_layers == 1 and type(model) in _READOUTS:
        yield from _one_step_batches_fast(model, inputs, targets, chunk)
    else:
        yield from _one_step_batches_stepwise(model, inputs, targets, chunk)


def _one_step_batches_stepwise(model, inputs, targets, chunk: int) -> Iterator[Batch]:
    """The straightforward form: the states before each step of a chunk are
    found without gradient, one model call per step, then all steps of the
    chunk are evaluated as one batch of single steps."""
    n_streams, n_samples, n_features = inputs.shape
    state: Optional[State] = None  # the reset at t = 0 of every stream
    for start in range(0, n_samples, chunk):
        x = inputs[:, start : start + chunk]
        steps = x.shape[1]
        h_before, c_before = [], []
        with torch.no_grad():
            for t in range(steps):
                if state is None:
                    state = reset_state(model, n_streams, x)
                h_before.append(state[0])
                c_before.append(state[1])
                _, state = model(x[:, t : t + 1], state)
        # (layers, steps, streams, H) -> (layers, streams * steps, H), stream-major
        h0 = torch.stack(h_before, dim=1).transpose(1, 2).reshape(state[0].shape[0], -1, state[0].shape[2])
        c0 = torch.stack(c_before, dim=1).transpose(1, 2).reshape(state[0].shape[0], -1, state[0].shape[2])
        out, _ = model(x.reshape(n_streams * steps, 1, n_features), (h0, c0))
        yield out.reshape(n_streams, steps, *out.shape[2:]), targets[:, start : start + chunk]


# What each model's forward does with the LSTM's output; the fast path below
# recomputes that output itself. A model not listed takes the stepwise path.
_READOUTS = {
    FrequencyLSTM: lambda model, hidden: model.head(hidden).squeeze(-1),
    MultiTaskLSTM: lambda model, hidden: model.head(hidden),
}


def _one_step_batches_fast(model, inputs, targets, chunk: int) -> Iterator[Batch]:
    """One-layer one-step gradients without a Python call per step.

    The fused LSTM runs the chunk once without gradient and gives h before
    every step. The gates of all steps are then one batched computation with
    gradient (from the detached h before each step); the cell state before
    each step follows from them by the recurrence c_t = f_t c_{t-1} + i_t g_t,
    one cheap in-place multiply-add per step. The cell equations are
    nn.LSTM's (gate order i, f, g, o)."""
    lstm = model.lstm
    n_streams, n_samples, _ = inputs.shape
    hidden = lstm.hidden_size
    h0 = inputs.new_zeros(n_streams, hidden)  # the reset at t = 0 of every stream
    c0 = inputs.new_zeros(n_streams, hidden)
    for start in range(0, n_samples, chunk):
        x = inputs[:, start : start + chunk]
        with torch.no_grad():
            h_after, (h_last, c_last) = lstm(x, (h0[None], c0[None]))
            h_before = torch.cat([h0[:, None], h_after[:, :-1]], dim=1)  # (streams, steps, H)
        gates = (torch.nn.functional.linear(x, lstm.weight_ih_l0, lstm.bias_ih_l0)
                 + torch.nn.functional.linear(h_before, lstm.weight_hh_l0, lstm.bias_hh_l0))
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        ig = i * g
        with torch.no_grad():
            cells = [c0]
            for f_t, ig_t in zip(f.detach().unbind(1), ig.detach().unbind(1)):
                cells.append(torch.addcmul(ig_t, f_t, cells[-1]))
            c_before = torch.stack(cells[:-1], dim=1)  # (streams, steps, H)
        h = o * torch.tanh(f * c_before + ig)
        out = _READOUTS[type(model)](model, h)
        h0, c0 = h_last[0], c_last[0]
        yield out, targets[:, start : start + chunk]


def _window_batches(model, inputs, targets, length: int, batch_size: int, generator) -> Iterator[Batch]:
    """The guide's L > 1 variant: windows of `length` samples, state reset
    for every window. Windows are independent, so their order is shuffled."""
    windows_x, windows_y = _windows(inputs, targets, length)
    order = torch.randperm(windows_x.shape[0], generator=generator).to(inputs.device)
    for start in range(0, order.shape[0], batch_size):
        idx = order[start : start + batch_size]
        out, _ = model(windows_x[idx], None)
        yield out, windows_y[idx]


def _windows(inputs: torch.Tensor, targets: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    n_streams, n_samples, n_features = inputs.shape
    usable = (n_samples // length) * length
    windows_x = inputs[:, :usable].reshape(-1, length, n_features)
    windows_y = targets[:, :usable].reshape(-1, length)
    return windows_x, windows_y


ATTENTION_BUDGET = 1 << 24  # attention weights (windows * L * L) per forward pass at inference


@torch.no_grad()
def predict(model: torch.nn.Module, config: RunConfig, inputs: torch.Tensor) -> torch.Tensor:
    """Model output for every step of every stream, (streams, N), the way the
    model type runs at inference: L = 1 with state carried from the reset at
    t = 0 (stateful, multitask, and sequence with carried state), or windows
    of L with a reset per window (sequence, attention). Attention with carried
    state runs consecutive windows of L, the state carried between them."""
    was_training = model.training
    model.eval()
    try:
        with full_precision(inputs.device):
            return _predict(model, config, inputs)
    finally:
        model.train(was_training)


def _predict(model: torch.nn.Module, config: RunConfig, inputs: torch.Tensor) -> torch.Tensor:
    if config.model == "multitask":
        stream, _ = multitask_stream(inputs, inputs[..., 0])
        out, _ = model(stream, None)  # (1, N, K)
        return out[0].T
    if config.model == "attention" and config.carry_state:
        return _predict_carried_windows(model, inputs, config.sequence_length)
    if feeding_of(config) is not Feeding.WINDOWS:
        out, _ = model(inputs, None)
        return out
    return _predict_windows(model, inputs, config.sequence_length)


def _predict_windows(model, inputs: torch.Tensor, length: int) -> torch.Tensor:
    """Windows of `length`, state reset per window, the last one shorter if
    N is not a multiple. Windows go through in groups so that an attention
    model's (windows, L, L) weights stay within ATTENTION_BUDGET."""
    n_streams, n_samples, _ = inputs.shape
    usable = (n_samples // length) * length
    windows_x, _ = _windows(inputs, inputs[..., 0], length)
    group = max(1, ATTENTION_BUDGET // (length * length))
    outputs = [model(windows_x[i : i + group], None)[0] for i in range(0, windows_x.shape[0], group)]
    parts = [torch.cat(outputs).reshape(n_streams, usable)] if outputs else []
    if usable < n_samples:  # the last, shorter window
        parts.append(model(inputs[:, usable:], None)[0])
    return torch.cat(parts, dim=1)


def _predict_carried_windows(model, inputs: torch.Tensor, length: int) -> torch.Tensor:
    """Consecutive windows of `length` along each stream, the state carried
    from one to the next (how the model was trained with carry_state)."""
    state: Optional[State] = None
    parts = []
    for start in range(0, inputs.shape[1], length):
        out, state = model(inputs[:, start : start + length], state)
        parts.append(out)
    return torch.cat(parts, dim=1)

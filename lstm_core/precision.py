"""Floating-point precision of training, and the IEEE float32 every reported
number is computed in.

Training takes the `precision` config field:
- fp32: IEEE float32 throughout. On CUDA this has to be asked for: PyTorch
  lets cuDNN's RNN kernels use TF32 tensor cores for float32 by default
  (`torch.backends.cudnn.rnn.fp32_precision == "tf32"`), which rounds the
  inputs of every recurrent matrix product to 10 mantissa bits.
- tf32: TF32 tensor cores for float32 matrix products and cuDNN RNNs on CUDA;
  on other devices there are none, and it is fp32.
- bf16: the forward passes under `torch.autocast` to bfloat16 (weights,
  optimizer state and the loss stay float32), on any device.

Validation, test, ablations and every MSE the product prints run in IEEE
float32 whatever the training precision (`full_precision`), so a lower
precision can only change what the model learned, never how it is scored.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Iterator

import torch


def applied(precision: str, device: torch.device) -> str:
    """What `precision` means on `device`: tf32 is fp32 where there is no CUDA."""
    return "fp32" if precision == "tf32" and device.type != "cuda" else precision


@contextmanager
def _cuda_float32_matmuls(device: torch.device, tf32: bool) -> Iterator[None]:
    """TF32 on or off for cuBLAS matrix products and cuDNN RNNs, restored on
    exit. These switches are process-wide; one run trains at a time."""
    if device.type != "cuda":
        yield
        return
    rnn = getattr(torch.backends.cudnn, "rnn", None)
    if rnn is not None and hasattr(rnn, "fp32_precision"):  # torch >= 2.9
        value = "tf32" if tf32 else "ieee"
        saved = (rnn.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
        rnn.fp32_precision = torch.backends.cuda.matmul.fp32_precision = value
        try:
            yield
        finally:
            rnn.fp32_precision, torch.backends.cuda.matmul.fp32_precision = saved
        return
    saved_flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved_flags


@contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """IEEE float32: no autocast, no TF32. Every evaluation runs inside this."""
    with ExitStack() as stack:
        stack.enter_context(_cuda_float32_matmuls(device, tf32=False))
        if torch.is_autocast_enabled(device.type):
            stack.enter_context(torch.autocast(device.type, enabled=False))
        yield


@contextmanager
def training_precision(precision: str, device: torch.device) -> Iterator[None]:
    """The matrix-product precision for one epoch of updates (forward and
    backward). Autocast is not entered here: see `forward_passes`."""
    with _cuda_float32_matmuls(device, tf32=applied(precision, device) == "tf32"):
        yield


def forward_passes(batches: Iterator[tuple[torch.Tensor, torch.Tensor]], precision: str,
                   device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Advance `batches` of (output, target) (each step runs the model's
    forward pass) under bfloat16 autocast when precision is bf16, and hand
    the output back as float32. The caller's loss and backward run outside
    autocast, as PyTorch recommends."""
    if precision != "bf16":
        yield from batches
        return
    while True:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            batch = next(batches, None)
        if batch is None:
            return
        output, target = batch
        yield output.float(), target


_SUPPORT: dict[tuple[str, str], str | None] = {}  # (precision, device) -> why not (None: works)


def unsupported_reason(precision: str, device: torch.device) -> str | None:
    """Why `precision` cannot train on `device` (None where it can). bf16 is
    decided by running the real primitive once on a tiny LSTM, forward and
    backward under autocast: oneDNN's bfloat16 LSTM needs AVX-512 BF16 or
    AMX on x86 CPUs, older GPUs lack a bfloat16 RNN kernel, and the only
    sure test of what this build and this device can do is to try it.
    fp32 and tf32 always work (tf32 is fp32 where there is no CUDA)."""
    if precision != "bf16":
        return None
    key = (precision, str(device))
    if key not in _SUPPORT:
        _SUPPORT[key] = _probe_bf16(device)
    return _SUPPORT[key]


def _probe_bf16(device: torch.device) -> str | None:
    try:
        lstm = torch.nn.LSTM(3, 4, batch_first=True).to(device)
        x = torch.randn(2, 3, 3, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out, _ = lstm(x)
        out.float().sum().backward()
    except (RuntimeError, NotImplementedError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return text.split(". ")[0][:100]  # the first sentence: what failed
    if out.dtype != torch.bfloat16:
        return "autocast leaves the LSTM in float32 here"
    return None

"""The `precision` setting: bf16 autocast reaches the training forward passes
and nothing else; every evaluation runs in IEEE float32 whatever surrounds
it; what was applied is recorded; where this CPU has no bfloat16 LSTM (x86
without AVX-512 BF16 or AMX: `make test-avx2` runs this file as such a CPU)
bf16 is refused before anything is written. (CUDA's TF32 switches:
tests/test_cuda.py.)"""
import json
import os
import subprocess
import sys

import pytest
import torch

from lstm_core import feeding, precision
from lstm_core.config import build_config
from lstm_core.errors import ConfigError
from lstm_core.models import FrequencyLSTM
from lstm_core.runner import run_training
from lstm_core.trainer import Trainer

CPU = torch.device("cpu")
BF16_WHY = precision.unsupported_reason("bf16", CPU)
needs_bf16 = pytest.mark.skipif(BF16_WHY is not None, reason=f"no bfloat16 LSTM on this CPU ({BF16_WHY})")


def test_precision_is_a_validated_choice():
    assert build_config({}).precision == "fp32"
    assert build_config({"precision": "bf16"}).precision == "bf16"
    with pytest.raises(ConfigError, match="precision"):
        build_config({"precision": "fp16"})


def test_tf32_is_fp32_where_there_is_no_cuda():
    assert precision.applied("tf32", CPU) == "fp32"
    assert precision.applied("bf16", CPU) == "bf16"
    assert precision.applied("tf32", torch.device("cuda")) == "tf32"


def _lstm_output_dtypes(model):
    seen = []
    model.lstm.register_forward_hook(lambda module, args, out: seen.append(out[0].dtype))
    return seen


@needs_bf16
@pytest.mark.parametrize("truncation", ["chunk", "step"])
def test_bf16_runs_the_training_forward_in_bfloat16_and_hands_back_float32(tiny_config, truncation):
    config = tiny_config(precision="bf16", truncation=truncation)
    torch.manual_seed(0)
    model = FrequencyLSTM(2, hidden_size=8)
    seen = _lstm_output_dtypes(model)
    x, y = torch.randn(2, 40, 3), torch.randn(2, 40)
    batches = feeding.train_batches(model, config, x, y, torch.Generator())
    outputs = [out for out, _ in precision.forward_passes(batches, "bf16", CPU)]
    assert seen and set(seen) == {torch.bfloat16}
    assert {out.dtype for out in outputs} == {torch.float32}
    assert not torch.is_autocast_enabled("cpu")  # left as it was found


def test_fp32_forward_passes_are_the_batches_unchanged(tiny_config):
    torch.manual_seed(0)
    model = FrequencyLSTM(2, hidden_size=8)
    seen = _lstm_output_dtypes(model)
    x, y = torch.randn(2, 40, 3), torch.randn(2, 40)
    batches = feeding.train_batches(model, tiny_config(), x, y, torch.Generator())
    outputs = list(precision.forward_passes(batches, "fp32", CPU))
    assert set(seen) == {torch.float32} and len(outputs) == 3


def test_prediction_is_float32_even_inside_an_autocast_region(tiny_config):
    config = tiny_config()
    torch.manual_seed(0)
    model = FrequencyLSTM(2, hidden_size=8)
    x = torch.randn(2, 30, 3)
    plain = feeding.predict(model, config, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = feeding.predict(model, config, x)
        assert torch.is_autocast_enabled("cpu")  # restored after the prediction
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, plain, rtol=0, atol=0)


@needs_bf16
def test_bf16_training_learns(tiny_config):
    config = tiny_config(precision="bf16", epochs=3, noise="informative")
    result = Trainer(config).fit()
    losses = [h.train_loss for h in result.history]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


def test_the_applied_precision_is_recorded(tiny_config, tmp_path):
    outcome = run_training(tiny_config(precision="tf32", epochs=1), runs_root=tmp_path)
    saved = json.loads(outcome.run_dir.file("results.json").read_text())
    assert saved["precision"] == "fp32"  # tf32 asked for, but this machine has no CUDA
    assert "training precision" in outcome.run_dir.file("report.md").read_text()


def test_bf16_where_the_device_lacks_it_is_refused_before_anything_exists(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setitem(precision._SUPPORT, ("bf16", "cpu"), "no bfloat16 LSTM kernel")
    with pytest.raises(ConfigError, match=r"^precision: bf16 cannot train on cpu here \(no bfloat16 LSTM kernel\)"):
        run_training(tiny_config(precision="bf16", epochs=1), runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    assert precision.unsupported_reason("fp32", CPU) is None and precision.unsupported_reason("tf32", CPU) is None


def test_bf16_on_a_cpu_without_avx512_refuses_or_trains_in_bf16(tmp_path):
    """As a user on an AVX2-only CPU (an older AMD EPYC) sees it: a one-line
    refusal, exit 2, the empty run directory they made still empty; or, on
    a CPU whose oneDNN does have a bfloat16 LSTM, a bf16 run."""
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    proc = subprocess.run([sys.executable, "-m", "lstm_core", "train", "--precision", "bf16", "--epochs", "1",
                           "--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8",
                           "--device", "cpu", "--run-dir", str(run_dir)],
                          capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode == 2:
        assert proc.stderr.count("\n") == 1 and "precision: bf16 cannot train on cpu" in proc.stderr
        assert "Traceback" not in proc.stderr and list(run_dir.iterdir()) == []
    else:
        assert proc.returncode == 0, proc.stderr
        assert json.loads((run_dir / "results.json").read_text())["precision"] == "bf16"

"""`--device cuda` end to end. Skipped where there is no CUDA GPU (CI).

FREQ_TEST_DEVICE=cpu runs the device-independent checks here on the CPU,
which is how this file's own logic is tried on a machine without a GPU; the
TF32 checks need CUDA and skip then."""
import json
from pathlib import Path
import os

import pytest
import torch

from lstm_core import cli, feeding, precision
from lstm_core.checkpoint import load_checkpoint, model_from_checkpoint
from lstm_core.data import splits_for
from lstm_core.evaluation import predict_signal
from lstm_core.events import EpochEnd
from lstm_core.metrics import mse
from lstm_core.models import FrequencyLSTM
from lstm_core.runner import resume_training, run_training
from lstm_core.trainer import StopFlag, Trainer

DEVICE = os.environ.get("FREQ_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="no CUDA GPU")
needs_cuda = pytest.mark.skipif(DEVICE != "cuda", reason="TF32 switches exist on CUDA only")


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    """The report's figures are covered elsewhere; runs here skip them."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


def cuda_tf32_setting() -> str:
    rnn = getattr(torch.backends.cudnn, "rnn", None)
    if rnn is not None and hasattr(rnn, "fp32_precision"):
        return rnn.fp32_precision
    return "tf32" if torch.backends.cudnn.allow_tf32 else "ieee"


def test_training_keeps_model_and_data_on_the_device(tiny_config):
    trainer = Trainer(tiny_config(device=DEVICE))
    for tensor in (trainer.train_x, trainer.train_y, trainer.val_x, trainer.val_y, *trainer.model.parameters()):
        assert tensor.device.type == DEVICE
    assert trainer.optimizer.defaults["fused"]
    result = trainer.fit()
    assert result.status == "finished" and all(torch.isfinite(torch.tensor(h.val_loss)) for h in result.history)


@pytest.mark.parametrize("settings", [dict(), dict(truncation="step"), dict(model="sequence", sequence_length=5),
                                      dict(model="multitask"), dict(model="attention", sequence_length=5)],
                         ids=["stateful", "step", "sequence", "multitask", "attention"])
def test_device_training_gives_the_cpu_numbers(tiny_config, settings):
    """Same seed, IEEE float32 on both: the losses agree to float rounding."""
    on_cpu = Trainer(tiny_config(device="cpu", **settings)).fit().history
    on_device = Trainer(tiny_config(device=DEVICE, **settings)).fit().history
    for a, b in zip(on_cpu, on_device):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-3)
        assert b.val_loss == pytest.approx(a.val_loss, rel=1e-3)


@pytest.mark.parametrize("settings", [
    dict(),  # 40 steps in chunks of 16: two graph replays and a shorter chunk eagerly
    dict(model="multitask"),
    dict(model="sequence", carry_state=True, sequence_length=5),
    dict(curriculum_start=10, curriculum_threshold=10.0, epochs=3),  # the trained prefix grows every epoch
    dict(augment_snr_db=10.0),  # fresh input noise every epoch
    dict(scheduler="cosine", epochs=3),  # a new learning rate every epoch: captured again
    dict(batch_size=64),  # shorter than the stream: no graph at all
], ids=["stateful", "multitask", "sequence-carried", "curriculum", "augmented", "cosine-lr", "one-chunk"])
def test_graphed_updates_give_the_eager_numbers(tiny_config, settings):
    graphed = Trainer(tiny_config(device=DEVICE, **settings))
    eager = Trainer(tiny_config(device=DEVICE, cuda_graphs=False, **settings))
    assert (graphed.graphed is not None) == (DEVICE == "cuda") and eager.graphed is None
    a, b = graphed.fit().history, eager.fit().history
    for x, y in zip(a, b):
        assert x.train_loss == pytest.approx(y.train_loss, rel=1e-6, abs=1e-9)
        assert x.val_loss == pytest.approx(y.val_loss, rel=1e-6, abs=1e-9)
    for p, q in zip(graphed.model.parameters(), eager.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_fast_one_step_path_matches_stepwise_on_the_device():
    torch.manual_seed(0)
    model = FrequencyLSTM(3, hidden_size=16).to(DEVICE)
    inputs, targets = torch.randn(3, 50, 4, device=DEVICE), torch.randn(3, 50, device=DEVICE)
    with precision.training_precision("fp32", torch.device(DEVICE)):
        pairs = zip(feeding._one_step_batches_stepwise(model, inputs, targets, 16),
                    feeding._one_step_batches_fast(model, inputs, targets, 16))
        for (slow, _), (fast, _) in pairs:
            torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.parametrize("setting,inside", [("fp32", "ieee"), ("tf32", "tf32"), ("bf16", "ieee")])
def test_training_sets_tf32_as_asked_and_evaluation_never_uses_it(tiny_config, setting, inside):
    before = cuda_tf32_setting()
    trainer = Trainer(tiny_config(device="cuda", precision=setting))
    seen = {"train": set(), "eval": set()}
    trainer.model.lstm.register_forward_hook(
        lambda module, args, out: seen["train" if module.training else "eval"].add(cuda_tf32_setting()))
    trainer.fit()
    assert seen == {"train": {inside}, "eval": {"ieee"}}
    assert cuda_tf32_setting() == before  # restored


def test_bf16_trains_in_bfloat16_on_the_device(tiny_config):
    trainer = Trainer(tiny_config(device=DEVICE, precision="bf16", epochs=3))
    dtypes = set()

    def record(module, args, out):
        if module.training:
            dtypes.add(out[0].dtype)

    trainer.model.lstm.register_forward_hook(record)
    history = trainer.fit().history
    # Under autocast PyTorch runs cuDNN's LSTM in float16 (seen with torch
    # 2.11 on an H200); the CPU's oneDNN LSTM in bfloat16.
    assert dtypes and dtypes <= {torch.bfloat16, torch.float16}
    assert history[-1].train_loss < history[0].train_loss


def test_headless_command_on_the_device_writes_a_run_a_cpu_machine_can_read(tmp_path, capsys):
    run = tmp_path / "run"
    code = cli.main(["train", "--duration", "0.3", "--fs", "100", "--frequencies", "2,5", "--epochs", "2",
                     "--hidden-size", "8", "--device", DEVICE, "--run-dir", str(run)])
    assert code == 0, capsys.readouterr().err
    results = json.loads((run / "results.json").read_text())
    assert results["device"].startswith(DEVICE) and results["precision"] == "fp32"
    model, config, _ = model_from_checkpoint(run / "best.pt", "cpu")  # weights come back to the CPU
    assert next(model.parameters()).device.type == "cpu"
    test = splits_for(config)["test"]
    on_cpu = mse(predict_signal(model, config, test, torch.device("cpu")), test.targets)
    assert on_cpu == pytest.approx(results["test_mse"], rel=1e-4)


def test_resume_on_the_device_continues_to_the_same_numbers(tiny_config, tmp_path):
    config = tiny_config(device=DEVICE, epochs=4)
    reference = run_training(config, runs_root=tmp_path / "reference").run_dir.path
    stop = StopFlag()

    def stop_after_two(event):
        if isinstance(event, EpochEnd) and event.record.epoch == 2:
            stop.request("interrupted")

    path = run_training(config, runs_root=tmp_path / "resumed", stop=stop, on_event=stop_after_two).run_dir.path
    assert resume_training(path).training.status == "finished"
    a = json.loads((path / "results.json").read_text())
    b = json.loads((reference / "results.json").read_text())
    assert a["test_mse"] == pytest.approx(b["test_mse"], rel=1e-5)
    weights_a, weights_b = load_checkpoint(path / "best.pt"), load_checkpoint(reference / "best.pt")
    for name, value in weights_a["model_state"].items():
        torch.testing.assert_close(value, weights_b["model_state"][name], rtol=1e-5, atol=1e-6)


async def test_app_trains_and_evaluates_on_the_device(tmp_path):
    from tests.test_tui_app import TINY, settle
    from tui.app import FreqApp
    from tui.screens.evaluate import EvaluateScreen

    app = FreqApp({**TINY, "device": DEVICE}, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.session.state == "finished"
        results = json.loads((Path(app.session.run_dir) / "results.json").read_text())
        assert results["device"].startswith(DEVICE)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, EvaluateScreen)


def test_loss_is_read_back_from_the_device_only_at_progress_intervals(tiny_config, monkeypatch):
    """No host synchronisation per step: float() of a device tensor happens
    at progress events and epoch ends, not once per update."""
    config = tiny_config(device=DEVICE, epochs=1, duration=2.0, batch_size=4)  # 50 updates
    trainer = Trainer(config)
    reads = []
    original = torch.Tensor.__float__
    monkeypatch.setattr(torch.Tensor, "__float__", lambda self: reads.append(1) or original(self))
    trainer.fit()
    assert feeding.batches_per_epoch(config, 2, 200) == 50
    assert len(reads) < 10


def test_epoch_records_hold_the_gpu_figures_or_why_not(tiny_config):
    """On CUDA each epoch's record has the GPU's memory (the GPU torch trains
    on: its total is torch's), or the sampler says why it has none."""
    from lstm_core.sysmon import GPU_FIELDS, SystemSampler

    trainer = Trainer(tiny_config(device=DEVICE))
    history = trainer.fit().history
    if DEVICE != "cuda":
        assert all(getattr(r, name) is None for r in history for name in GPU_FIELDS)
        return
    reason = trainer.system.gpu_reason()
    for record in history:
        assert record.gpu_mem_used_mb is None or record.gpu_mem_used_mb > 0
    if reason is None:
        total = torch.cuda.get_device_properties(trainer.device).total_memory / 2**20
        assert history[-1].gpu_mem_total_mb == pytest.approx(total, rel=0.05)
        assert history[-1].gpu_mem_used_mb > 0 and history[-1].gpu_util_percent is not None
    else:
        print(f"GPU figures not read: {reason}")
        assert SystemSampler(str(trainer.device)).sample().gpu_reason() == reason

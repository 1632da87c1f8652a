"""The speed work must not change what is computed: the fast one-step path
against the straightforward one, the CPU thread setting, the fused optimizer,
and the benchmark's faithful copy of the guide's loop."""
import json

import pytest
import torch
from torch import nn

from bench import guide_reference, run_bench
from lstm_core import feeding
from lstm_core.config import build_config, load_preset
from lstm_core.data import generate_for, splits_for
from lstm_core.errors import ConfigError
from lstm_core.models import FrequencyLSTM, MultiTaskLSTM
from lstm_core.trainer import Trainer


def _grads_per_update(model, batches):
    outputs, grads = [], []
    for out, target in batches:
        model.zero_grad()
        nn.functional.mse_loss(out, target).backward()
        outputs.append(out.detach().clone())
        grads.append([p.grad.clone() for p in model.parameters()])
    return outputs, grads


@pytest.mark.parametrize("n_samples,chunk", [(50, 7), (48, 16), (5, 32)])
def test_fast_one_step_path_gives_the_stepwise_outputs_and_gradients(n_samples, chunk):
    torch.manual_seed(0)
    model = FrequencyLSTM(3, hidden_size=16)
    inputs, targets = torch.randn(3, n_samples, 4), torch.randn(3, n_samples)
    slow = _grads_per_update(model, feeding._one_step_batches_stepwise(model, inputs, targets, chunk))
    fast = _grads_per_update(model, feeding._one_step_batches_fast(model, inputs, targets, chunk))
    assert len(slow[0]) == len(fast[0]) == -(-n_samples // chunk)
    for a, b in zip(slow[0], fast[0]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for update_a, update_b in zip(slow[1], fast[1]):
        for a, b in zip(update_a, update_b):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("n_frequencies", [1, 3])
def test_fast_one_step_path_matches_stepwise_for_the_multitask_model(n_frequencies):
    torch.manual_seed(0)
    model = MultiTaskLSTM(n_frequencies, hidden_size=8)
    inputs, targets = torch.randn(1, 40, 1), torch.randn(1, 40, n_frequencies)
    slow = _grads_per_update(model, feeding._one_step_batches_stepwise(model, inputs, targets, 16))
    fast = _grads_per_update(model, feeding._one_step_batches_fast(model, inputs, targets, 16))
    assert fast[0][0].shape == (1, 16, n_frequencies)
    for a, b in zip(slow[0], fast[0]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for update_a, update_b in zip(slow[1], fast[1]):
        for a, b in zip(update_a, update_b):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_model_the_fast_path_does_not_know_takes_the_stepwise_path(monkeypatch):
    class Other(FrequencyLSTM):  # same weights, a readout the fast path cannot assume
        def forward(self, x, state=None):
            out, state = self.lstm(x, state)
            return 2 * self.head(out).squeeze(-1), state

    calls = []
    monkeypatch.setattr(feeding, "_one_step_batches_stepwise", lambda *a: calls.append("stepwise") or iter(()))
    list(feeding._one_step_batches(Other(2, hidden_size=4), torch.zeros(2, 10, 3), torch.zeros(2, 10), 4))
    assert calls == ["stepwise"]


def test_fast_path_is_taken_for_one_layer_and_stepwise_for_deeper(tiny_config, monkeypatch):
    calls = []
    monkeypatch.setattr(feeding, "_one_step_batches_fast", lambda *a: calls.append("fast") or iter(()))
    monkeypatch.setattr(feeding, "_one_step_batches_stepwise", lambda *a: calls.append("stepwise") or iter(()))
    for layers in (1, 2):
        config = tiny_config(truncation="step", num_layers=layers)
        model = FrequencyLSTM(2, hidden_size=4, num_layers=layers)
        x, y = torch.zeros(2, 10, 3), torch.zeros(2, 10)
        list(feeding.train_batches(model, config, x, y, torch.Generator()))
    assert calls == ["fast", "stepwise"]


def test_one_step_training_learns_the_same_with_either_path(tiny_config, monkeypatch):
    config = tiny_config(truncation="step", epochs=2)
    fast = Trainer(config).fit()
    monkeypatch.setattr(feeding, "_one_step_batches_fast", feeding._one_step_batches_stepwise)
    slow = Trainer(config).fit()
    for a, b in zip(fast.history, slow.history):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-4)
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-4)


def test_cuda_graphs_apply_to_chunk_fed_training_on_cuda_only(tiny_config):
    from lstm_core.cuda_graph import unsupported_reason
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    for settings in (dict(), dict(model="multitask"), dict(model="sequence", carry_state=True)):
        assert unsupported_reason(tiny_config(**settings), cuda) is None, settings
    assert "CUDA device" in unsupported_reason(tiny_config(), cpu)
    assert "off" in unsupported_reason(tiny_config(cuda_graphs=False), cuda)
    for settings in (dict(truncation="step"), dict(truncation="full"), dict(model="sequence"),
                     dict(model="attention")):
        assert "chunk-fed" in unsupported_reason(tiny_config(**settings), cuda), settings
    assert "bf16" in unsupported_reason(tiny_config(precision="bf16"), cuda)
    assert "dropout" in unsupported_reason(tiny_config(num_layers=2, dropout=0.2), cuda)
    trainer = Trainer(tiny_config())  # on the CPU: the eager loop, a plain optimizer
    assert trainer.graphed is None and not trainer.optimizer.defaults["capturable"]


def test_fused_adam_matches_the_plain_adam_update(tiny_config):
    config = tiny_config(epochs=1)
    trainer = Trainer(config)
    assert trainer.optimizer.defaults["fused"]
    torch.manual_seed(1)
    plain = FrequencyLSTM(2, hidden_size=8)
    plain.load_state_dict(trainer.model.state_dict())
    plain_opt = torch.optim.Adam(plain.parameters(), lr=config.lr)
    x, y = torch.randn(2, 12, 3), torch.randn(2, 12)
    for model, opt in ((trainer.model, trainer.optimizer), (plain, plain_opt)):
        for _ in range(3):
            opt.zero_grad()
            nn.functional.mse_loss(model(x)[0], y).backward()
            opt.step()
    for a, b in zip(trainer.model.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_cpu_threads_is_validated_and_applied(tiny_config):
    with pytest.raises(ConfigError, match="cpu_threads"):
        build_config({"cpu_threads": -1})
    before = torch.get_num_threads()
    try:
        Trainer(tiny_config(cpu_threads=1))
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        Trainer(tiny_config(cpu_threads=0))  # 0 leaves torch's setting alone
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# ---- the guide's loop, kept as the benchmark reference ------------------------

def test_reference_dataset_rows_are_the_guides_layout(tiny_config):
    signal = generate_for(tiny_config(), 1)
    dataset = guide_reference.FrequencyExtractionDataset(signal.S, signal.targets, signal.t)
    rows_x, rows_y = signal.rows()
    n = signal.n_samples
    assert len(dataset) == rows_x.shape[0]
    for idx in (0, 1, n - 1, n, 2 * n - 1):
        item = dataset[idx]
        assert (item["freq_idx"], item["sample_idx"]) == divmod(idx, n)
        torch.testing.assert_close(item["input"], torch.from_numpy(rows_x[idx]))
        assert item["target"].item() == pytest.approx(float(rows_y[idx]))


def test_reference_resets_on_first_batch_frequency_change_and_sample_zero():
    batch = lambda freq, sample: {"freq_idx": torch.tensor([freq]), "sample_idx": torch.tensor([sample])}
    assert guide_reference._reset_needed(batch(0, 0), None) == (True, 0)
    assert guide_reference._reset_needed(batch(0, 32), 0) == (False, 0)
    assert guide_reference._reset_needed(batch(1, 16), 0) == (True, 1)
    assert guide_reference._reset_needed(batch(1, 0), 1) == (True, 1)


def test_reference_model_keeps_detached_state_between_calls():
    torch.manual_seed(0)
    model = guide_reference.StatefulLSTM(3, hidden_size=4)
    x = torch.randn(5, 3)
    first = model(x, reset_state=True)
    assert model.hidden_state is not None and not model.hidden_state.requires_grad
    carried = model(x)
    fresh = model(x, reset_state=True)
    torch.testing.assert_close(fresh, first)
    assert not torch.allclose(carried, first)


def test_reference_trains_and_reports(tiny_config):
    splits = splits_for(tiny_config())
    out = guide_reference.train_reference(splits["train"], splits["val"], splits["test"], epochs=2, hidden_size=8)
    assert len(out["epoch_times"]) == 2 and out["rows"] == 2 * splits["train"].n_samples
    assert all(0 < loss < 10 for loss in out["train_losses"] + out["val_losses"] + [out["test_mse"]])


def test_bench_runs_end_to_end_on_a_tiny_signal(tmp_path):
    out = tmp_path / "results.json"
    assert run_bench.main(["--epochs", "1", "--repeats", "1", "--duration", "0.5", "--preset", "",
                           "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results["throughput"]) == {"guide reference", "stateful (defaults)", "stateful, truncation = step",
                                          "stateful, batch_size = 128", "sequence (defaults)"}
    for row in results["throughput"].values():
        assert row["epoch_s"]["median"] > 0 and 0 < row["test_mse"] < 10
    assert "| guide reference |" in results["table"]
    # the floor is a bare forward+backward, far below the guide's loop
    floor = results["floor"]["epoch_s"]["median"]
    assert 0 < floor < results["throughput"]["guide reference"]["epoch_s"]["median"]
    assert results["full_bptt"]["rows"] == 4 and results["full_bptt"]["steps"] == 500  # one copy per frequency
    assert results["full_bptt"]["update_s"]["median"] > 0
    assert "Floor (" in results["table"] and "Full BPTT over 4 rows x 500 steps" in results["table"]


def test_informative_fast_preset_loads():
    config = build_config(load_preset("informative-fast"))
    assert config.noise == "informative"

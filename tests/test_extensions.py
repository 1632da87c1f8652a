"""The guide's extensions: the attention and multitask models and Gaussian
noise augmentation, each selectable through config and evaluated like the
base models."""
import json
import math

import numpy as np
import pytest
import torch

from lstm_core import feeding
from lstm_core.checkpoint import model_from_checkpoint
from lstm_core.cli import build_parser, config_from_args
from lstm_core.config import MODEL_CHOICES, build_config, load_toml
from lstm_core.data import splits_for
from lstm_core.errors import ConfigError
from lstm_core.models import AttentionLSTM, FrequencyLSTM, MultiTaskLSTM, build_model
from lstm_core.runner import run_training
from lstm_core.trainer import Trainer, to_device


# ---- config ----------------------------------------------------------------
def test_extension_models_are_config_choices():
    assert {"attention", "multitask"} <= set(MODEL_CHOICES)
    assert isinstance(build_model(build_config({"model": "attention"}), 4), AttentionLSTM)
    assert isinstance(build_model(build_config({"model": "multitask"}), 4), MultiTaskLSTM)
    assert isinstance(build_model(build_config({"model": "sequence"}), 4), FrequencyLSTM)


def test_attention_needs_a_window_of_at_least_two():
    with pytest.raises(ConfigError) as err:
        build_config({"model": "attention", "sequence_length": 1})
    assert err.value.field == "sequence_length" and "attention" in err.value.reason


@pytest.mark.parametrize("raw, expected", [("", 0.0), ("  ", 0.0), ("0", 0.0), ("20", 20.0), ("-3.5", -3.5), (10, 10.0)])
def test_augment_snr_parses_and_blank_means_off(raw, expected):
    assert build_config({"augment_snr_db": raw}).augment_snr_db == expected


@pytest.mark.parametrize("raw", ["loud", "nan", "inf", "200", "-41", True])
def test_augment_snr_rejects_bad_values(raw):
    with pytest.raises(ConfigError) as err:
        build_config({"augment_snr_db": raw})
    assert err.value.field == "augment_snr_db"


def test_extensions_reach_the_cli_flags_and_toml(tmp_path):
    args = build_parser().parse_args(["train", "--model", "multitask", "--augment-snr-db", "15"])
    config = config_from_args(args)
    assert config.model == "multitask" and config.augment_snr_db == 15.0
    path = tmp_path / "c.toml"
    path.write_text('[model]\nmodel = "attention"\n[training]\naugment_snr_db = 6\n')
    config = build_config(load_toml(path))
    assert config.model == "attention" and config.augment_snr_db == 6.0
    assert "augment_snr_db = 6.0" in config.to_toml()


# ---- attention ---------------------------------------------------------------
def test_attention_weights_are_causal_and_normalised():
    torch.manual_seed(0)
    model = AttentionLSTM(3, hidden_size=8)
    hidden, _ = model.lstm(torch.randn(5, 7, 4))
    weights = model.attention_weights(hidden)
    assert weights.shape == (5, 7, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(5, 7))
    assert torch.all(weights.triu(diagonal=1) == 0)
    assert torch.all(weights[:, 0, 0] == 1)  # step 0 can only attend to itself


def test_attention_output_never_sees_a_later_sample():
    torch.manual_seed(0)
    model = AttentionLSTM(2, hidden_size=8)
    x = torch.randn(1, 10, 3)
    changed = x.clone()
    changed[0, 6, 0] += 5.0
    before, after = model(x)[0], model(changed)[0]
    assert torch.equal(before[:, :6], after[:, :6])
    assert not torch.allclose(before[:, 6:], after[:, 6:])


@pytest.mark.parametrize("carry_state", [False, True])
def test_attention_predicts_every_row(tiny_config, carry_state):
    config = tiny_config(model="attention", sequence_length=7, carry_state=carry_state)  # 40 samples: 5 windows + 5
    model = build_model(config, 2)
    inputs, _ = to_device(splits_for(config)["test"], torch.device("cpu"))
    prediction = feeding.predict(model, config, inputs)
    assert prediction.shape == (2, 40) and torch.all(torch.isfinite(prediction))
    # Window by window, by hand: reset per window, or state carried between them.
    state, parts = None, []
    for start in range(0, 40, 7):
        out, new_state = model(inputs[:, start : start + 7], state)
        parts.append(out)
        state = new_state if carry_state else None
    assert torch.allclose(prediction, torch.cat(parts, dim=1), atol=1e-6)


def test_attention_with_carried_state_trains_on_consecutive_windows(tiny_config):
    config = tiny_config(model="attention", sequence_length=7, carry_state=True)
    model = build_model(config, 2)
    inputs, targets = to_device(splits_for(config)["train"], torch.device("cpu"))
    batches = list(feeding.train_batches(model, config, inputs, targets, torch.Generator().manual_seed(0)))
    assert [o.shape for o, _ in batches] == [(2, 7)] * 5 + [(2, 5)]
    assert len(batches) == feeding.batches_per_epoch(config, 2, 40)
    assert torch.equal(batches[1][1], targets[:, 7:14])


def test_attention_windows_in_groups_give_the_same_prediction(tiny_config, monkeypatch):
    config = tiny_config(model="attention", sequence_length=4)
    model = build_model(config, 2)
    inputs, _ = to_device(splits_for(config)["test"], torch.device("cpu"))
    whole = feeding.predict(model, config, inputs)
    monkeypatch.setattr(feeding, "ATTENTION_BUDGET", 3 * 16)  # three windows per pass
    assert torch.allclose(feeding.predict(model, config, inputs), whole, atol=1e-6)


# ---- multitask ---------------------------------------------------------------
def test_multitask_sees_S_alone_and_gives_all_frequencies():
    config = build_config({"model": "multitask", "duration": 0.5, "fs": 100.0, "frequencies": [2.0, 5.0, 11.0]})
    model = build_model(config, 3)
    assert model.lstm.input_size == 1 and model.head.out_features == 3
    inputs, targets = to_device(splits_for(config)["test"], torch.device("cpu"))
    prediction = feeding.predict(model, config, inputs)
    assert prediction.shape == (3, 50)
    out, _ = model(inputs[:1, :, :1])  # S alone, one pass
    assert torch.allclose(prediction, out[0].T)


@pytest.mark.parametrize("truncation", ["chunk", "step"])
def test_multitask_trains_on_one_stream_with_all_targets(tiny_config, truncation):
    config = tiny_config(model="multitask", truncation=truncation, batch_size=16)
    model = build_model(config, 2)
    inputs, targets = to_device(splits_for(config)["train"], torch.device("cpu"))
    batches = list(feeding.train_batches(model, config, inputs, targets, torch.Generator().manual_seed(0)))
    assert len(batches) == feeding.batches_per_epoch(config, 2, 40) == 3
    output, target = batches[0]
    assert output.shape == target.shape == (1, 16, 2)
    assert torch.equal(target[0], targets[:, :16].T)


def test_multitask_learns_under_informative_noise(tiny_config):
    config = tiny_config(model="multitask", epochs=12, lr=0.02, hidden_size=16)
    history = Trainer(config).fit().history
    assert history[-1].train_loss < 0.7 * history[0].train_loss
    assert history[-1].val_loss < history[0].val_loss


# ---- augmentation -------------------------------------------------------------
def test_augmentation_noise_has_the_requested_snr():
    S = torch.sin(torch.linspace(0, 400, 50_000))
    inputs = torch.zeros(3, 50_000, 4)
    inputs[:, :, 0] = S
    inputs[torch.arange(3), :, 1 + torch.arange(3)] = 1.0
    noisy = feeding.add_input_noise(inputs, 10.0, torch.Generator().manual_seed(0))
    noise = noisy[..., 0] - inputs[..., 0]
    snr = 10 * math.log10(float(S.pow(2).mean() / noise[0].pow(2).mean()))
    assert snr == pytest.approx(10.0, abs=0.1)
    assert torch.equal(noise[0], noise[2])  # one S, one draw, in every stream
    assert torch.equal(noisy[..., 1:], inputs[..., 1:])  # selectors untouched
    assert feeding.add_input_noise(inputs, 0.0, torch.Generator()) is inputs


def test_augmentation_is_applied_in_training_only(tiny_config):
    plain, noisy = tiny_config(), tiny_config(augment_snr_db=0.5)
    model = build_model(plain, 2)
    inputs, targets = to_device(splits_for(plain)["train"], torch.device("cpu"))
    out_plain = [o.detach() for o, _ in feeding.train_batches(model, plain, inputs, targets, torch.Generator().manual_seed(0))]
    out_noisy = [o.detach() for o, _ in feeding.train_batches(model, noisy, inputs, targets, torch.Generator().manual_seed(0))]
    assert not torch.allclose(out_plain[0], out_noisy[0])
    assert torch.equal(feeding.predict(model, plain, inputs), feeding.predict(model, noisy, inputs))


# ---- evaluated and reported like the base models --------------------------------
@pytest.mark.parametrize("model_name", ["attention", "multitask"])
def test_extension_runs_are_evaluated_per_frequency(tiny_config, tmp_path, model_name):
    config = tiny_config(model=model_name, sequence_length=5, augment_snr_db=20.0, run_dir=str(tmp_path / "run"))
    run_training(config)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["model"] == model_name and results["augment_snr_db"] == 20.0
    assert [row["hz"] for row in results["per_frequency"]] == [2.0, 5.0]
    assert all(math.isfinite(row["test_mse"]) for row in results["per_frequency"])
    assert results["test_mse"] == pytest.approx(np.mean([row["test_mse"] for row in results["per_frequency"]]))
    assert 'augment_snr_db = 20.0' in (tmp_path / "run" / "config.toml").read_text()
    assert results["noisy_input"]["snr_db"] == 20.0  # checked at the training SNR
    assert results["noisy_input"]["test_mse"] != results["test_mse"]
    # The best checkpoint reloads as the same model type and reproduces the reported test MSE.
    model, config_back, _ = model_from_checkpoint(tmp_path / "run" / "best.pt")
    assert type(model) is type(build_model(config, 2)) and config_back.model == model_name
    inputs, targets = to_device(splits_for(config)["test"], torch.device("cpu"))
    test_mse = float(torch.mean((feeding.predict(model, config_back, inputs) - targets) ** 2))
    assert test_mse == pytest.approx(results["test_mse"], rel=1e-5)


# ---- robustness check that makes augmentation measurable -----------------------
def test_the_check_adds_training_noise_at_the_requested_snr_one_draw_per_test_seed():
    from lstm_core.data import generate
    from lstm_core.robustness import with_noise

    test = generate([1.0, 3.0], fs=1000.0, duration=40.0, seed=3)
    noisy = with_noise(test, 3.0, test_seed=3)
    snr = 10 * np.log10(np.mean(test.S**2) / np.mean((noisy.S - test.S) ** 2))
    assert snr == pytest.approx(3.0, abs=0.1)
    assert np.array_equal(noisy.targets, test.targets)
    assert np.array_equal(with_noise(test, 3.0, test_seed=3).S, noisy.S)
    assert not np.array_equal(with_noise(test, 3.0, test_seed=4).S, noisy.S)


def test_runs_without_augmentation_are_checked_at_10_db(tiny_config, tmp_path):
    outcome = run_training(tiny_config(run_dir=str(tmp_path / "run")))
    check = outcome.results.scores.noisy_input
    assert check.snr_db == 10.0
    assert math.isfinite(check.test_mse) and check.test_mse != outcome.results.scores.test_mse
    saved = json.loads((tmp_path / "run" / "results.json").read_text())["noisy_input"]
    assert saved == {"snr_db": check.snr_db, "test_mse": check.test_mse}

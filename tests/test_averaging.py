"""ema_decay: the run validates, keeps and evaluates an exponential moving
average of its weights; 0 trains and validates exactly as without it."""
import pytest
import torch

from lstm_core.config import build_config
from lstm_core.errors import ConfigError
from lstm_core.events import EpochEnd
from lstm_core.rundir import RunDir
from lstm_core.runner import training_regime
from lstm_core.trainer import Trainer


def weights(model):
    return {name: param.detach().clone() for name, param in model.named_parameters()}


def test_ema_off_is_the_run_without_it(tiny_config, tmp_path):
    plain = Trainer(tiny_config(epochs=3, lr=0.05))
    off = Trainer(tiny_config(epochs=3, lr=0.05, ema_decay=0.0))
    assert off.average is None
    a, b = plain.fit().history, off.fit().history
    assert [(r.train_loss, r.val_loss, r.is_best) for r in a] == [(r.train_loss, r.val_loss, r.is_best) for r in b]
    for name, value in weights(plain.model).items():
        assert torch.equal(value, weights(off.model)[name])


def test_ema_follows_the_formula_and_is_what_the_run_validates_and_keeps(tiny_config, tmp_path):
    decay = 0.8
    config = tiny_config(epochs=2, lr=0.05, ema_decay=decay)
    run_dir = RunDir.create(config, runs_root=tmp_path)
    trainer = Trainer(config, run_dir=run_dir)
    expected = weights(trainer.model)  # the average starts at the initial weights
    step = trainer.optimizer.step

    def step_and_average(*args, **kwargs):  # after every optimiser step: d * average + (1 - d) * weights
        result = step(*args, **kwargs)
        for name, param in trainer.model.named_parameters():
            expected[name] = decay * expected[name] + (1 - decay) * param.detach()
        return result

    trainer.optimizer.step = step_and_average
    validated = []

    def on_event(event):
        if isinstance(event, EpochEnd):
            trained = weights(trainer.model)
            for name, value in trained.items():  # the trained weights stay in the model outside validation
                assert not torch.allclose(value, expected[name])
            with trainer.evaluated_weights():
                for name, param in trainer.model.named_parameters():
                    assert torch.allclose(param, expected[name], atol=1e-6)
                loss, _ = trainer.validation_loss()
            for name, value in weights(trainer.model).items():
                assert torch.equal(value, trained[name])
            validated.append((event.record.val_loss, loss, {k: v.clone() for k, v in expected.items()}))

    trainer.on_event = on_event
    ended = trainer.fit()
    assert len(validated) == 2
    for (val_loss, loss_again, _), record in zip(validated, ended.history):
        assert record.val_loss == pytest.approx(loss_again, rel=1e-5)  # the epoch's validation used the average
    best = validated[ended.best_epoch - 1][2]
    for name, param in trainer.model.named_parameters():  # the run ends with the best epoch's average loaded
        assert torch.allclose(param, best[name], atol=1e-6)
    on_disk = torch.load(run_dir.file("best.pt"), weights_only=True)["model_state"]
    for name, value in best.items():
        assert torch.allclose(on_disk[name], value, atol=1e-6)


def test_ema_decay_rule_and_regime(tiny_config):
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ConfigError, match="ema_decay"):
            build_config({"ema_decay": bad})
    assert training_regime(tiny_config(ema_decay=0.99))["ema_decay"] == 0.99

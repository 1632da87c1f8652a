"""Target stop: a run ends once its validation MSE has stayed at or below
target_mse for target_patience epochs, and says so."""
import json

import pytest

from lstm_core.config import build_config
from lstm_core.errors import ConfigError
from lstm_core.errors import UserError
from lstm_core.runner import resume_training, run_training
from lstm_core.trainer import Trainer

EPOCHS = 12


def expected_stop(val_losses, target, patience):
    """The first epoch (1-based) that ends `patience` epochs in a row at or below target."""
    streak = 0
    for epoch, loss in enumerate(val_losses, start=1):
        streak = streak + 1 if loss <= target else 0
        if streak >= patience:
            return epoch, epoch - patience + 1
    return None, None


@pytest.fixture
def reference(tiny_config):
    history = Trainer(tiny_config(epochs=EPOCHS, lr=0.01)).fit().history
    losses = [r.val_loss for r in history]
    target = max(losses[5], losses[6])  # epochs 6 and 7 are at or below it: the stop comes by epoch 7
    return losses, target


def test_run_stops_once_the_target_held(tiny_config, reference):
    losses, target = reference
    stop, first = expected_stop(losses, target, 2)
    trainer = Trainer(tiny_config(epochs=EPOCHS, lr=0.01, target_mse=target, target_patience=2))
    result = trainer.fit()
    assert result.status == "target_reached" and result.epochs_run == stop < EPOCHS
    assert [r.val_loss for r in result.history] == losses[:stop]  # the same run, cut short
    assert f"from epoch {first}" in result.message
    record = trainer.target_record(result.status)
    assert record["reached"] and record["first_epoch"] == first
    assert record["time_to_target_s"] == pytest.approx(sum(r.epoch_time for r in result.history[:first]))
    assert record["time_to_stop_s"] == pytest.approx(sum(r.epoch_time for r in result.history))


def test_an_unreached_target_changes_nothing(tiny_config, reference):
    losses, _ = reference
    trainer = Trainer(tiny_config(epochs=EPOCHS, lr=0.01, target_mse=min(losses) / 2))
    result = trainer.fit()
    assert result.status == "finished" and [r.val_loss for r in result.history] == losses
    record = trainer.target_record(result.status)
    assert record["reached"] is False and record["first_epoch"] is None
    assert Trainer(tiny_config(epochs=2)).target_record("finished") is None  # target_mse = 0: off


def test_results_and_status_say_so_and_resume_refuses(tiny_config, reference, tmp_path):
    _, target = reference
    config = tiny_config(epochs=EPOCHS, lr=0.01, target_mse=target, target_patience=2, run_dir=str(tmp_path / "run"))
    outcome = run_training(config)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert results["status"] == status["status"] == "target_reached"
    assert results["target"]["reached"] and results["target"]["time_to_target_s"] > 0
    assert results["stop_reason"] == outcome.training.message
    with pytest.raises(UserError, match="reached its target"):
        resume_training(tmp_path / "run")


def test_target_fields_are_checked():
    with pytest.raises(ConfigError, match="target_mse"):
        build_config({"target_mse": -0.1})
    with pytest.raises(ConfigError, match="target_patience"):
        build_config({"target_patience": 0})
    assert build_config({"target_mse": ""}).target_mse == 0.0  # an empty form entry turns it off

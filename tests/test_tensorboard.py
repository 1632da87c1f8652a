"""tensorboard = true: epoch metrics as TensorBoard event files in the run
directory (the optional extra), or a one-line error without it."""
import pytest

from lstm_core import tensorboard_log
from lstm_core.cli import main
from lstm_core.config import build_config
from lstm_core.errors import ConfigError
from lstm_core.runner import run_training

TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--epochs", "2", "--hidden-size", "8",
        "--device", "cpu"]


def test_without_the_extra_asking_for_it_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tensorboard_log, "available", lambda: False)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--tensorboard", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "freq-tui: error: tensorboard: needs the optional extra: pip install 'freq-lstm[tensorboard]'"
    assert not run.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="tensorboard"):
        build_config({"tensorboard": True})
    build_config({"tensorboard": False})  # off: no extra needed


@pytest.mark.skipif(not tensorboard_log.available(), reason="the tensorboard extra is not installed")
def test_each_epoch_is_written_as_tensorboard_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = build_config(dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=3, hidden_size=8,
                               device="cpu", tensorboard=True, run_dir=str(tmp_path / "run")))
    outcome = run_training(config)
    events = list(outcome.run_dir.path.glob("events.out.tfevents.*"))
    assert len(events) == 1
    accumulator = EventAccumulator(str(outcome.run_dir.path))
    accumulator.Reload()
    assert {"loss/train", "loss/val", "lr", "epoch_time_s"} <= set(accumulator.Tags()["scalars"])
    metrics = outcome.run_dir.read_metrics()
    for tag, key in (("loss/train", "train_loss"), ("loss/val", "val_loss"), ("lr", "lr")):
        scalars = accumulator.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2, 3]
        assert [s.value for s in scalars] == pytest.approx([getattr(r, key) for r in metrics], rel=1e-6)

import math

import numpy as np
import pytest
import torch

from lstm_core.events import BatchProgress, EpochEnd, RunEnded, RunStarted
from lstm_core.rundir import RunDir
from lstm_core.metrics_log import MetricsLog
from lstm_core.trainer import StopFlag, Trainer


def test_a_tiny_run_lowers_the_loss(tiny_config):
    config = tiny_config(epochs=8, lr=0.01, hidden_size=16)
    history = Trainer(config).fit().history
    assert history[-1].train_loss < 0.7 * history[0].train_loss
    assert history[-1].val_loss < history[0].val_loss


def test_same_seed_same_run_on_cpu(tiny_config):
    config = tiny_config(epochs=2)
    a, b = Trainer(config).fit().history, Trainer(config).fit().history
    assert [r.val_loss for r in a] == [r.val_loss for r in b]
    other = Trainer(tiny_config(epochs=2, seed=7)).fit().history
    assert other[0].val_loss != a[0].val_loss


def cosine(lr, epochs):
    """The lr after each epoch of a cosine to 0 over `epochs`."""
    return [lr * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(1, epochs + 1)]


def test_cosine_over_its_own_epochs_ends_the_run(tiny_config):
    plain = Trainer(tiny_config(epochs=4, lr=0.01, scheduler="cosine")).fit()  # over all the epochs
    assert [r.lr for r in plain.history] == [pytest.approx(x, abs=1e-12) for x in cosine(0.01, 4)]
    assert plain.message == "ran all 4 epochs"
    short = Trainer(tiny_config(epochs=9, lr=0.01, scheduler="cosine", cosine_epochs=4)).fit()
    assert [r.val_loss for r in short.history] == [r.val_loss for r in plain.history]
    assert short.status == "finished" and short.message == "the lr schedule ended after 4 epochs (a cosine over 4)"
    # a cosine longer than the epochs (a preset's, with fewer --epochs) fits the run
    fitted = Trainer(tiny_config(epochs=4, lr=0.01, scheduler="cosine", cosine_epochs=100)).fit()
    assert [r.val_loss for r in fitted.history] == [r.val_loss for r in plain.history]


def test_cosine_waits_at_curriculum_lr_min_while_the_prefix_grows(tiny_config):
    # 40 samples; the prefix grows after every epoch (any loss is below
    # the threshold): 2, 4, 8, 16, 32, then the whole 40 from epoch 6 on.
    growing = dict(curriculum_start=2, curriculum_growth=2.0, curriculum_threshold=1e9, epochs=12, lr=0.01,
                   scheduler="cosine", cosine_epochs=4)
    plain = Trainer(tiny_config(**growing)).fit()
    assert [r.trained_length for r in plain.history] == [2, 4, 8, 16]  # the cosine ended first
    waiting = Trainer(tiny_config(**growing, curriculum_lr_min=0.004)).fit()
    lrs = [r.lr for r in waiting.history]
    # 0.0085, 0.005; then the cosine would go to 0.0015: it waits at 0.004
    # until the prefix covers the stream (after epoch 5), and goes on from there.
    decay = cosine(0.01, 4)
    assert lrs[:2] == [pytest.approx(x) for x in decay[:2]]
    assert lrs[2:4] == [pytest.approx(0.004)] * 2
    assert lrs[4:] == [pytest.approx(0.004 * decay[2] / decay[1]), pytest.approx(0.0, abs=1e-12)]
    assert [r.trained_length for r in waiting.history] == [2, 4, 8, 16, 32, 40]
    assert [r.val_loss for r in waiting.history[:2]] == [r.val_loss for r in plain.history[:2]]
    assert waiting.message == "the lr schedule ended after 6 epochs (a cosine over 4, 2 more at curriculum_lr_min)"
    # a prefix that never covers the stream: it waits until the epochs run out, and says why
    stalled = Trainer(tiny_config(**{**growing, "curriculum_threshold": 1e-12}, curriculum_lr_min=0.004)).fit()
    assert [r.lr for r in stalled.history][2:] == [pytest.approx(0.004)] * 10
    assert stalled.message.startswith("ran all 12 epochs; the curriculum never covered the whole stream")


def test_events_describe_the_run(tiny_config):
    events = []
    Trainer(tiny_config(epochs=2, batch_size=4), on_event=events.append).fit()
    assert isinstance(events[0], RunStarted) and events[0].total_epochs == 2
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.record.epoch for e in epochs] == [1, 2]
    assert epochs[0].preview.output.shape == epochs[0].preview.target.shape == (2, 40)
    assert all(isinstance(e.preview.output, np.ndarray) for e in epochs)
    assert any(isinstance(e, BatchProgress) for e in events)
    assert isinstance(events[-1], RunEnded) and events[-1].status == "finished"


def test_stop_takes_effect_within_one_batch(tiny_config):
    stop = StopFlag()
    batches = []

    def on_event(event):
        if isinstance(event, BatchProgress):
            batches.append(event.batch)

    trainer = Trainer(tiny_config(epochs=50, batch_size=2), on_event=on_event, stop=stop)
    original = trainer.optimizer.step
    calls = {"n": 0}

    def counting_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 30:
            stop.request()
        return original(*args, **kwargs)

    trainer.optimizer.step = counting_step
    result = trainer.fit()
    assert result.status == "cancelled"
    assert calls["n"] == 30  # no update after the one that saw the request


def test_early_stopping_and_checkpoints(tiny_config, tmp_path):
    config = tiny_config(epochs=30, patience=1, lr=1e-6)
    run_dir = RunDir(tmp_path)
    result = Trainer(config, run_dir, on_event=MetricsLog(run_dir)).fit()  # metrics.jsonl: a subscriber
    assert result.status == "early_stopped" and result.epochs_run < 30
    assert (tmp_path / "best.pt").exists() and (tmp_path / "last.pt").exists()
    assert len(run_dir.read_metrics()) == result.epochs_run
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    assert payload["epoch"] == result.epochs_run and payload["versions"]["torch"] == torch.__version__


def test_nan_loss_stops_the_run(tiny_config):
    trainer = Trainer(tiny_config(epochs=5))
    trainer.train_y[0, 3] = math.nan
    result = trainer.fit()
    assert result.status == "diverged" and "epoch 1" in result.message

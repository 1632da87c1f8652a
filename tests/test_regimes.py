"""The training regimes for the literal noise (augmentation, curriculum, full
BPTT, learned initial state) and the noise sweep, on tiny configs."""
import math

import pytest
import torch

from lstm_core import feeding
from lstm_core.config import build_config
from lstm_core.errors import ConfigError
from lstm_core.models import build_model
from lstm_core.data import splits_for
from lstm_core.trainer import Trainer, to_device

TINY = {"duration": 0.4, "fs": 500.0, "hidden_size": 8, "epochs": 2}


def tiny(**settings):
    return build_config({**TINY, **settings})


def test_shuffle_keeps_the_values_of_s_and_the_targets():
    config = tiny(augment="shuffle_s")
    x, y = to_device(splits_for(config)["train"], torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    ax, ay = feeding.shuffled_streams(config, x, y, generator)
    assert ax.shape == x.shape
    for row in range(ax.shape[0]):
        assert torch.equal(torch.sort(ax[row, :, 0]).values, torch.sort(x[row, :, 0]).values)
        assert torch.equal(ax[row, :, 1:], x[row, :, 1:])  # the one-hot C is untouched
        assert torch.equal(ay[row], y[row])  # targets stay in time order
    assert not torch.equal(ax[:, :, 0], x[:, :, 0])  # it did shuffle
    # a second pass draws a new shuffle
    bx, _ = feeding.shuffled_streams(config, x, y, generator)
    assert not torch.equal(ax, bx)


def test_no_augmentation_leaves_streams_alone():
    config = tiny()
    x, y = to_device(splits_for(config)["train"], torch.device("cpu"))
    ax, ay = feeding.shuffled_streams(config, x, y, torch.Generator())
    assert ax is x and ay is y


def test_shuffle_is_refused_when_s_depends_on_time():
    with pytest.raises(ConfigError) as info:
        tiny(noise="informative", augment="shuffle_s")
    assert info.value.field == "augment"
    with pytest.raises(ConfigError):
        tiny(model="sequence", truncation="full")


def test_curriculum_grows_only_when_the_loss_is_low_and_stops_at_the_stream_end():
    config = tiny(curriculum_start=10, curriculum_growth=2.0, curriculum_threshold=0.1)
    curriculum = feeding.Curriculum.for_config(config, 200)
    assert curriculum.length == 10 and not curriculum.complete
    assert not curriculum.update(0.5)
    assert curriculum.length == 10
    lengths = []
    while curriculum.update(0.01):
        lengths.append(curriculum.length)
    assert lengths == [20, 40, 80, 160, 200]
    assert curriculum.complete
    assert feeding.Curriculum.for_config(tiny(), 200).complete  # off: the whole stream


def last_step_gradient_at_t0(config):
    """Gradient of the last update's output at the last step with respect to
    the input at t = 0 (zero when truncation cut the path)."""
    torch.manual_seed(0)
    model = build_model(config, 4)
    x, y = to_device(splits_for(config)["train"], torch.device("cpu"))
    x = x.clone().requires_grad_(True)
    batches = list(feeding.train_batches(model, config, x, y, torch.Generator().manual_seed(0)))
    out, target = batches[-1]
    out[:, -1].sum().backward()
    return len(batches), out.shape, x.grad[:, 0]


def test_full_bptt_backpropagates_from_the_last_step_to_t0():
    n, shape, grad = last_step_gradient_at_t0(tiny(truncation="full", updates_per_epoch=2))
    assert n == 2 and shape == (4, 200)  # the whole stream in every update
    assert grad.abs().sum() > 0
    # truncated BPTT in chunks cuts that path: the control that the check can fail
    n, shape, grad = last_step_gradient_at_t0(tiny(truncation="chunk", batch_size=50))
    assert n == 4 and grad.abs().sum() == 0


def test_curriculum_limits_the_trained_prefix():
    config = tiny(truncation="full", updates_per_epoch=1)
    model = build_model(config, 4)
    x, y = to_device(splits_for(config)["train"], torch.device("cpu"))
    [(out, target)] = feeding.train_batches(model, config, x, y, torch.Generator(), length=17)
    assert out.shape == target.shape == (4, 17)
    assert torch.equal(target, y[:, :17])


def test_trainer_records_the_curriculum(tmp_path):
    config = tiny(truncation="full", updates_per_epoch=2, curriculum_start=20,
                  curriculum_threshold=10.0, curriculum_growth=2.0, epochs=4)
    result = Trainer(config).fit()
    lengths = [record.trained_length for record in result.history]
    assert lengths == [20, 40, 80, 160]
    assert result.status == "finished" and result.message == "ran all 4 epochs"  # then 200: the whole stream


def test_a_stalled_curriculum_is_named_in_the_end_message_and_every_epoch_line():
    from lstm_core.console_view import epoch_line

    config = tiny(truncation="full", updates_per_epoch=1, curriculum_start=20, curriculum_threshold=1e-12, epochs=3)
    result = Trainer(config).fit()
    assert result.status == "finished"
    assert result.message == ("ran all 3 epochs; the curriculum never covered the whole stream: "
                              "epochs 1-3 trained on the first 20 of 200 steps")
    assert "  prefix 20" in epoch_line(result.history[-1])


def test_epochs_without_a_curriculum_record_no_prefix():
    from lstm_core.console_view import epoch_line

    result = Trainer(tiny(epochs=1)).fit()
    assert result.history[0].trained_length is None
    assert "prefix" not in epoch_line(result.history[0]) and result.message == "ran all 1 epochs"


def test_sweep_writes_table_and_png(tmp_path):
    from lstm_core.sweep import run_sweep, sweep_configs

    # 2 s at 100 Hz: long enough for the band-pass to resolve 1 Hz from 3 Hz
    short = {**TINY, "duration": 2.0, "fs": 100.0, "epochs": 1}
    base = {"stateful": short, "sequence": {**short, "sequence_length": 5}}
    points = sweep_configs(base, [0.0, 1.0])
    rows = run_sweep(points, tmp_path)
    assert len(rows) == 4
    assert {row.model for row in rows} == {"stateful", "sequence"}
    for row in rows:
        assert math.isfinite(row.test_mse) and row.zero_mse > 0.4
    noiseless = next(row for row in rows if row.phase_fraction == 0.0)
    assert noiseless.bandpass_mse < 0.05  # S holds the targets when there is no phase noise
    literal = next(row for row in rows if row.phase_fraction == 1.0)
    assert literal.bandpass_mse > 0.3
    csv_text = (tmp_path / "sweep.csv").read_text()
    assert csv_text.splitlines()[0].startswith("phase_fraction,")
    assert len(csv_text.strip().splitlines()) == 5
    assert "band-pass reference" in (tmp_path / "sweep.md").read_text()
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shipped_presets_are_valid_configs():
    from lstm_core.config import list_presets, load_preset

    names = list_presets()
    assert {"informative-stateful", "informative-sequence", "informative-quick", "literal-stateful"} <= set(names)
    for name in names:
        build_config(load_preset(name))

import math

import pytest

from lstm_core.config import FIELDS, RunConfig, build_config, load_preset, load_toml, parse_value
from lstm_core.errors import ConfigError


def test_defaults_follow_the_guide():
    c = RunConfig()
    assert (c.model, c.hidden_size, c.num_layers, c.epochs, c.batch_size, c.lr) == ("stateful", 64, 1, 50, 32, 1e-3)
    assert c.frequencies == [1.0, 3.0, 5.0, 7.0] and c.fs == 1000.0 and c.duration == 10.0
    assert (c.train_seed, c.test_seed) == (1, 2) and c.grad_clip == 1.0
    assert c.phase_range == (0.0, 2 * math.pi)


@pytest.mark.parametrize("name, raw, field", [
    ("epochs", "0", "epochs"), ("epochs", "-3", "epochs"), ("hidden_size", 0, "hidden_size"),
    ("lr", "0", "lr"), ("lr", -1e-3, "lr"), ("model", "transformer", "model"),
    ("dropout", 1.0, "dropout"), ("frequencies", "1,x", "frequencies"), ("epochs", 2.5, "epochs"),
    ("lr", "nan", "lr"), ("carry_state", "maybe", "carry_state"), ("colour", 1, "colour"),
])
def test_bad_values_name_their_field(name, raw, field):
    with pytest.raises(ConfigError) as info:
        build_config({name: raw})
    assert info.value.field == field
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("settings, field", [
    ({"amplitude_low": 1.3, "amplitude_high": 1.2}, "amplitude_low"),
    ({"model": "sequence", "sequence_length": 1}, "sequence_length"),
    ({"frequencies": [1, 600]}, "frequencies"),
    ({"phase_high": 1.0}, "phase_high"),  # only with noise = custom
    ({"noise": "custom", "phase_low": 2, "phase_high": 1}, "phase_low"),
    ({"num_layers": 1, "dropout": 0.2}, "dropout"),
    ({"scheduler": "cosine", "curriculum_start": 10, "lr": 1e-3, "curriculum_lr_min": 1e-3}, "curriculum_lr_min"),
])
def test_rules_across_fields(settings, field):
    with pytest.raises(ConfigError) as info:
        build_config(settings)
    assert info.value.field == field


def test_a_presets_schedule_settings_give_way_to_flags():
    """literal-stateful's cosine_epochs and curriculum_lr_min stay valid when
    a flag shortens the run, turns off the curriculum or the cosine."""
    preset = load_preset("literal-stateful")
    for flags in ({"epochs": 2}, {"curriculum_start": 0}, {"scheduler": "plateau"}):
        config = build_config(preset, flags)
        assert config.cosine_epochs == 100 and config.curriculum_lr_min == 1e-4


def test_noise_presets_and_custom_phase():
    assert build_config({"noise": "informative"}).phase_range == pytest.approx((0, 0.02 * math.pi))
    assert build_config({"noise": "custom", "phase_high": 0.5}).phase_range == (0.0, 0.5)


def test_layers_later_wins_and_text_is_parsed():
    config = build_config({"hidden_size": 16, "lr": 0.1}, {"hidden-size": "32"})
    assert (config.hidden_size, config.lr) == (32, 0.1)
    assert parse_value("frequencies", "1, 3 5") == [1.0, 3.0, 5.0]


def test_toml_round_trip(tmp_path):
    config = build_config({"model": "sequence", "sequence_length": 20, "noise": "custom", "phase_high": 0.3})
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml())
    assert build_config(load_toml(path)) == config


def test_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_toml(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("epocs = 3")
    with pytest.raises(ConfigError, match="unknown config key 'epocs'"):
        load_toml(unknown)
    with pytest.raises(ConfigError, match="not found"):
        load_toml(tmp_path / "missing.toml")


def test_toml_sections_are_flattened(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[model]\nhidden_size = 12\n[training]\nepochs = 3\n")
    assert load_toml(path) == {"hidden_size": 12, "epochs": 3}


def test_every_field_has_a_group_and_help():
    for spec in FIELDS.values():
        assert spec.metadata["group"] and spec.metadata["help"]


def test_removed_fields_are_unknown():
    for name in ("stream_copies", "learned_init_state", "curriculum_gate"):
        with pytest.raises(ConfigError, match=name):
            build_config({name: 1})

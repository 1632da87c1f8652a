"""Bad input, from flags or a TOML file: one line naming the field (or file)
and what is allowed, exit status 2, never a traceback. Every rule lives in
config.py, so flags, TOML and the app's form give the same message."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_core.config import FIELDS, build_config, field_type, load_toml
from lstm_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def freq_tui(*args, cwd):
    # Bad input is rejected before torch is imported, so each call is quick.
    return subprocess.run([sys.executable, "-m", "lstm_core", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("freq-tui: error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# (flags, the field named, the allowed range or choice that must be stated)
BAD_FLAGS = [
    (["--epochs", "0"], "epochs", ">= 1"),
    (["--epochs", "-1"], "epochs", ">= 1"),
    (["--epochs", "2.5"], "epochs", "whole number"),
    (["--hidden-size", "0"], "hidden_size", ">= 1 and <= 4096"),
    (["--hidden-size", "5000"], "hidden_size", "<= 4096"),
    (["--lr", "0"], "lr", "> 0"),
    (["--lr", "-0.001"], "lr", "> 0"),
    (["--lr", "nan"], "lr", "finite"),
    (["--lr", "inf"], "lr", "finite"),
    (["--model", "gru"], "model", "stateful, sequence"),
    (["--model", "sequence", "--sequence-length", "1"], "sequence_length", ">= 2"),
    (["--amplitude-low", "1.5", "--amplitude-high", "1.2"], "amplitude_low", "amplitude_high"),
    (["--dropout", "1"], "dropout", "< 1"),
    (["--frequencies", "1,x"], "frequencies", "list of numbers"),
    (["--frequencies", "600"], "frequencies", "Nyquist"),
    (["--device", "tpu"], "device", "auto, cpu, cuda, cuda:N or mps"),
    (["--seed", "99999999999"], "seed", "<= 4294967295"),
    (["--fs", "100000", "--duration", "1000"], "duration", "too much data"),
    (["--noise", "literal", "--phase-high", "1"], "phase_high", "noise = custom"),
    (["--val-seed", "1"], "val_seed", "must all differ"),
]


@pytest.mark.parametrize("flags, field, allowed", BAD_FLAGS, ids=[" ".join(f) for f, _, _ in BAD_FLAGS])
def test_bad_flag_is_one_line_exit_2(flags, field, allowed, tmp_path):
    line = assert_one_line_error(freq_tui("train", *flags, cwd=tmp_path), f"{field}:", allowed)
    assert not (tmp_path / "runs").exists()  # nothing was created
    # The same rule, reached through TOML (the app's form calls the same
    # parse_value/build_config), gives the same message.
    settings = {}
    for i in range(0, len(flags), 2):
        settings[flags[i][2:].replace("-", "_")] = flags[i + 1]
    with pytest.raises(ConfigError) as info:
        build_config(settings)
    assert line == f"freq-tui: error: {info.value}"


BAD_FILES = [
    ("malformed.toml", b"epochs = = 3\n", "is not valid TOML"),
    ("unknown.toml", b"epochs = 3\ncolour = 'red'\n", "unknown config key 'colour'"),
    ("section.toml", b"[training]\nepoch = 3\n", "unknown config key 'epoch'"),
    ("binary.toml", b"\xff\xfe\x00garbage", "cannot read config file"),
]


@pytest.mark.parametrize("name, content, reason", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_config_file_names_the_file(name, content, reason, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    assert_one_line_error(freq_tui("train", "--config", str(path), cwd=tmp_path), str(path), reason)


def test_bad_value_in_config_file_names_the_field(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[training]\nepochs = 0\n")
    assert_one_line_error(freq_tui("train", "--config", str(path), cwd=tmp_path), "epochs:", ">= 1")
    path.write_text('hidden_size = "many"\n')
    assert_one_line_error(freq_tui("train", "--config", str(path), cwd=tmp_path), "hidden_size:", "whole number")


def test_unreadable_and_missing_config_files(tmp_path):
    folder = tmp_path / "folder.toml"
    folder.mkdir()  # a path that exists but cannot be read as a file (root reads any file)
    assert_one_line_error(freq_tui("train", "--config", str(folder), cwd=tmp_path), str(folder), "cannot read")
    missing = tmp_path / "missing.toml"
    assert_one_line_error(freq_tui("train", "--config", str(missing), cwd=tmp_path), str(missing), "not found")


def test_bad_resume_requests(tmp_path):
    assert_one_line_error(freq_tui("train", "--resume", str(tmp_path / "nope"), cwd=tmp_path),
                          str(tmp_path / "nope"), "run directory not found")
    assert_one_line_error(freq_tui("train", "--resume", str(tmp_path), cwd=tmp_path),
                          str(tmp_path), "not a freq-lstm run directory")
    assert_one_line_error(freq_tui("train", "--resume", str(tmp_path), "--epochs", "3", cwd=tmp_path),
                          "--epochs", "cannot be combined with --resume")


def test_every_rule_lives_in_config_py():
    """Other modules may not judge a setting themselves (device.py only says
    whether this machine has the device, which config.py cannot know)."""
    allowed = {"config.py", "device.py"}
    offenders = []
    for folder in ("lstm_core", "tui"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name not in allowed and re.search(r"raise ConfigError\(", path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_field_has_a_checked_rule_or_is_free_text():
    """Each numeric field states a range, each text field choices, a pattern
    or is free text by design (the run directory and run name)."""
    free_text = {"run_dir", "run_name"}
    for name, spec in FIELDS.items():
        rules = set(spec.metadata) - {"group", "help"}
        kind = field_type(name)
        if kind in (int, float, list):
            assert rules & {"min", "max", "gt", "lt"}, name
        elif kind is str and name not in free_text:
            assert rules & {"choices", "pattern"}, name


def test_toml_values_of_the_wrong_type(tmp_path):
    for text, field in [("epochs = true", "epochs"), ("model = [1, 2]", "model"), ("frequencies = 5", "frequencies"),
                        ("lr = 1e400", "lr"), ("run_dir = \"a\\u0000b\"", "run_dir")]:
        path = tmp_path / "c.toml"
        path.write_text(text + "\n")
        with pytest.raises(ConfigError) as info:
            build_config(load_toml(path))
        assert info.value.field == field and "\n" not in str(info.value)

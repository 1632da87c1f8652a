"""Hostile and borderline input, by kind: derived quantities that overflow,
seed ranges, files that are not regular files or lie about their size, WAV
sample rates, results and checkpoints that do not match, failed starts, and
how much of a value a message repeats. Each case: one line naming the field
or file, exit 2 (or it works, where the input is legal), every existing file
byte-identical, no run directory created."""
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core import cli, device as device_module, precision
from lstm_core.audio import read_wav, resample, resample_ratio, resampled_length
from lstm_core.checkpoint import model_from_checkpoint, save_checkpoint
from lstm_core.config import MAX_REPEATS, SEED_MAX, build_config, check_repeats, memory_estimate
from lstm_core.errors import ConfigError, UserError, clip, echo
from lstm_core.models import build_model

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--batch-size", "16",
        "--device", "cpu", "--noise", "informative", "--epochs", "1"]


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    """Runs here skip drawing the report (seconds of matplotlib per run)."""
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, argv, *needles, code=2) -> str:
    """Run the CLI in this process; the one line it printed on stderr."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("freq-tui: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err.strip()


def trained_run(tmp_path: Path, name: str, *flags: str) -> Path:
    run = tmp_path / name
    assert cli.main(["train", *TINY, *flags, "--run-dir", str(run)]) == 0
    return run


# ---- derived quantities that overflow or explode -----------------------------
@pytest.mark.parametrize("flags, needles", [
    (["--fs", "5e6", "--duration", "5e6"], ("duration", "too much data")),  # each in range, the product is not
    (["--duration", "1e300"], ("duration", "<= 1e+07", "1e+300")),
    (["--fs=-1e308"], ("fs", "> 0")),
    (["--frequencies", ",".join(str(i) for i in range(1, 70)), "--fs", "1000"], ("frequencies", "at most 64")),
    (["--model", "sequence", "--sequence-length", "100000000"], ("sequence_length", "<= 1000000")),
    (["--epochs", str(10**20)], ("epochs", "1.000e+20")),
    (["--updates-per-epoch", "1e9"], ("updates_per_epoch",)),
    (["--repeats", str(MAX_REPEATS + 1)], ("--repeats", f"between 1 and {MAX_REPEATS}")),
])
def test_derived_quantities_are_bounded_before_anything_exists(flags, needles, tmp_path, capsys):
    refused(capsys, ["train", *flags, "--runs-root", str(tmp_path / "runs")], *needles)
    assert not (tmp_path / "runs").exists()


def test_overflowing_values_in_a_toml_config_name_the_field(tmp_path, capsys):
    config = tmp_path / "huge.toml"
    config.write_text("fs = 1e308\nduration = 1e308\n")
    before = snapshot(tmp_path)
    refused(capsys, ["train", "--config", str(config), "--runs-root", str(tmp_path / "runs")], "fs", "<= 1e+07")
    assert snapshot(tmp_path) == before


def test_a_resumed_run_whose_config_was_edited_to_overflow(tmp_path, capsys):
    run = trained_run(tmp_path, "run")
    text = (run / "config.toml").read_text().replace("duration = 0.4", "duration = 1e200")
    (run / "config.toml").write_text(text)
    before = snapshot(tmp_path)
    for argv in (["train", "--resume", str(run)], ["report", str(run)]):
        refused(capsys, argv, "config.toml: duration", "<= 1e+07")
    assert snapshot(tmp_path) == before


def test_memory_of_data_model_and_evaluation_is_checked_against_the_machine(tmp_path, capsys, monkeypatch):
    big = build_config({"hidden_size": 4096, "num_layers": 16})
    sizes = memory_estimate(big)
    assert sizes["model"] > 30 * 2**30  # 2.1 G weights, their gradients, Adam's moments, best copy
    long_stream = build_config({"frequencies": [5.0], "fs": 1e4, "duration": 2000.0, "hidden_size": 4096})
    assert memory_estimate(long_stream)["evaluation"] > 300 * 2**30  # a whole-stream prediction, 2e7 x 4096
    assert memory_estimate(build_config({}))["host"] < 100 * 2**20  # the default needs under 100 MB

    monkeypatch.setattr(device_module, "available_memory", lambda: {"host": 2**30})
    refused(capsys, ["train", "--hidden-size", "4096", "--num-layers", "4", "--device", "cpu",
                     "--runs-root", str(tmp_path / "runs")], "config: needs about", "1.0 GB is available")
    refused(capsys, ["train", "--frequencies", "5", "--fs", "1e4", "--duration", "2000", "--hidden-size", "512",
                     "--device", "cpu", "--repeats", "2", "--runs-root", str(tmp_path / "runs")], "evaluation")
    assert not (tmp_path / "runs").exists()


def test_evaluate_on_data_too_large_for_the_machine_writes_nothing(tmp_path, capsys, monkeypatch):
    run = trained_run(tmp_path, "run")
    before = snapshot(tmp_path)
    monkeypatch.setattr(device_module, "available_memory", lambda: {"host": 2**20})
    refused(capsys, ["evaluate", str(run / "best.pt"), "--duration", "1000", "--out", str(tmp_path / "ev")],
            "needs about")
    refused(capsys, ["evaluate", str(run / "best.pt"), "--fs", "1e300", "--out", str(tmp_path / "ev")], "fs")
    assert snapshot(tmp_path) == before and not (tmp_path / "ev").exists()


# ---- seeds ------------------------------------------------------------------------
@pytest.mark.parametrize("seed, repeats, ok", [
    (SEED_MAX, 1, True), (SEED_MAX - 4, 5, True), (SEED_MAX - 4, 6, False), (SEED_MAX, 2, False),
    (0, MAX_REPEATS, True), (0, MAX_REPEATS + 1, False), (0, 0, False),
])
def test_every_seed_of_a_repeat_is_a_valid_seed(seed, repeats, ok):
    config = build_config({"seed": seed})
    if ok:
        check_repeats(config, repeats)
    else:
        with pytest.raises(ConfigError, match=r"^(seed|--repeats): "):
            check_repeats(config, repeats)


def test_repeats_past_the_last_seed_create_nothing(tmp_path, capsys):
    refused(capsys, ["train", *TINY, "--seed", str(SEED_MAX - 1), "--repeats", "3",
                     "--runs-root", str(tmp_path / "runs")], "seed + repeats - 1 = 4294967296",
            f"seed <= {SEED_MAX - 2}")
    refused(capsys, ["train", "--train-seed", "-1"], "train_seed", ">= 0")
    refused(capsys, ["train", "--seed", "1.5"], "seed", "whole number")
    assert not (tmp_path / "runs").exists()


def test_the_last_seeds_train_as_themselves(tmp_path, capsys):
    parent = tmp_path / "rep"
    assert cli.main(["train", *TINY, "--seed", str(SEED_MAX - 1), "--repeats", "2", "--run-dir", str(parent)]) == 0
    seeds = sorted(json.loads((parent / "summary.json").read_text())["seeds"])
    assert seeds == [SEED_MAX - 1, SEED_MAX]
    for seed in seeds:
        assert f"seed = {seed}\n" in (parent / f"seed-{seed}" / "config.toml").read_text()


# ---- files that are not regular files, or lie about their size --------------------
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    for args in (["train", "--config", str(fifo)], ["evaluate", str(fifo)], ["app", "--config", str(fifo)]):
        proc = subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)  # would hang forever if the pipe were opened to read
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "named pipe, not a regular file" in proc.stderr and str(fifo) in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


@pytest.mark.parametrize("path, kind", [("/dev/zero", "character device"), ("/dev/null", "character device"),
                                        (".", "folder")])
def test_devices_and_folders_are_named_not_read(path, kind, tmp_path, capsys):
    if not Path(path).exists():
        pytest.skip(f"no {path}")
    refused(capsys, ["train", "--config", path], f"{path}: cannot read config file (it is a {kind}")
    refused(capsys, ["evaluate", path, "--out", str(tmp_path / "ev")], path, kind)
    with pytest.raises(UserError, match=kind):
        read_wav(path)
    assert not (tmp_path / "ev").exists()


def test_checkpoints_and_audio_that_are_pipes(tmp_path):
    from lstm_core.checkpoint import load_checkpoint

    for name, read in (("best.pt", load_checkpoint), ("in.wav", read_wav)):
        os.mkfifo(tmp_path / name)
        with pytest.raises(UserError, match=r"named pipe, not a regular file"):
            read(tmp_path / name)  # returns at once: nothing is opened to wait for a writer


def test_files_larger_than_their_kind_may_be(tmp_path, capsys):
    config = tmp_path / "big.toml"
    config.write_text("# " + "x" * (2 << 20) + "\nepochs = 1\n")
    refused(capsys, ["train", "--config", str(config)], "big.toml", "config file is 2.0 MB, more than the 1.0 MB")


def test_deep_nesting_in_toml_is_one_line(tmp_path, capsys):
    for name, text in (("arrays.toml", "frequencies = " + "[" * 1000 + "]" * 1000 + "\n"),
                       ("tables.toml", "x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n"),
                       ("shallow.toml", "frequencies = [[[1.0]]]\n")):
        (tmp_path / name).write_text(text)
        err = refused(capsys, ["train", "--config", str(tmp_path / name)],
                      "frequencies: must be a list of numbers" if name == "shallow.toml" else name)
        assert len(err) < 300


def riff(path: Path, rate: int, data: bytes, *, claimed: int | None = None, bits: int = 16) -> Path:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * bits // 8, bits // 8, bits)
    size = len(data) if claimed is None else claimed
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def tone(rate: int, seconds: float, hz: float = 2.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t) * 32000).astype("<i2").tobytes()


def test_wav_headers_that_claim_more_than_the_file_holds(tmp_path):
    data = tone(1000, 0.5)
    for claimed in (0xFFFFFFF0, len(data) * 1000, len(data) + 1):
        audio = read_wav(riff(tmp_path / f"claims{claimed}.wav", 1000, data, claimed=claimed))
        assert audio.samples.shape == (len(data) // 2,)  # what the file holds
    audio = read_wav(riff(tmp_path / "short.wav", 1000, data, claimed=10))  # claims less: the header is kept
    assert audio.samples.shape == (5,)


# ---- WAV sample rates -----------------------------------------------------------
@pytest.mark.parametrize("rate, target", [(192000, 100.0), (96000, 1000.0), (22050, 1000.0), (8000, 333.5),
                                          (2_000_000, 100.0), (44100, 44100.0), (11025, 50.0)])
def test_resampling_gives_exactly_the_target_rate(rate, target):
    seconds = 0.5
    x = np.zeros(int(rate * seconds))
    ratio = resample_ratio(rate, target)
    assert ratio == __import__("fractions").Fraction(str(target)) / rate
    y = resample(x, rate, target)
    assert y.shape[0] == resampled_length(x.shape[0], ratio) == int(np.ceil(seconds * target - 1e-9))


@pytest.mark.parametrize("rate, target", [(999_983, 100.0), (44100, 1000.123456), (1, 150_000.0)])
def test_rates_that_cannot_be_resampled_exactly_are_refused(rate, target):
    with pytest.raises(UserError, match="cannot resample .* exactly"):
        resample_ratio(rate, target)


def test_extract_at_unusual_rates(tmp_path, capsys):
    run = trained_run(tmp_path, "run")
    assert cli.main(["extract", str(riff(tmp_path / "hi.wav", 192000, tone(192000, 1.0))),
                     "--checkpoint", str(run), "--out", str(tmp_path / "hi")]) == 0
    assert "192000 Hz -> 100 Hz, 100 samples" in capsys.readouterr().out
    before = snapshot(tmp_path)
    refused(capsys, ["extract", str(riff(tmp_path / "prime.wav", 999_983, tone(999_983, 0.6))),
                     "--checkpoint", str(run), "--out", str(tmp_path / "p")], "prime.wav", "cannot resample")
    refused(capsys, ["extract", str(riff(tmp_path / "low.wav", 9, tone(9, 2.0, hz=1.0))),
                     "--checkpoint", str(run), "--out", str(tmp_path / "l")], "low.wav", "Nyquist")
    assert not (tmp_path / "p").exists() and not (tmp_path / "l").exists()
    assert {k: v for k, v in snapshot(tmp_path).items() if k in before} == before


# ---- results and checkpoints that do not match -------------------------------------
@pytest.mark.parametrize("other, detail", [(["--hidden-size", "12"], "hidden_size 12 vs 8"),
                                           (["--model", "multitask"], "model multitask vs stateful"),
                                           (["--frequencies", "2,5,7"], "3 frequencies"),
                                           (["--lr", "0.01"], "other settings")])
def test_report_refuses_a_best_pt_of_another_model(other, detail, tmp_path, capsys):
    run, foreign = trained_run(tmp_path, "run"), trained_run(tmp_path, "foreign", *other)
    (run / "best.pt").write_bytes((foreign / "best.pt").read_bytes())
    before = snapshot(tmp_path)
    refused(capsys, ["report", str(run)], "best.pt", detail)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("key, value", [("versions", "torch 2"), ("versions", {"torch": 2}),
                                        ("per_frequency", {}), ("epochs_run", "3"), ("best_epoch", True)])
def test_results_json_that_fails_its_schema(key, value, tmp_path, capsys):
    run = trained_run(tmp_path, "run")
    results = json.loads((run / "results.json").read_text())
    results[key] = value
    (run / "results.json").write_text(json.dumps(results))
    before = snapshot(tmp_path)
    refused(capsys, ["report", str(run)], "results.json: damaged", f"'{key}'")
    refused(capsys, ["evaluate", str(run / "best.pt"), "--out", str(tmp_path / "ev")], "results.json")
    assert snapshot(tmp_path) == before


def test_status_json_that_fails_its_schema_is_not_used(tmp_path, capsys):
    run = trained_run(tmp_path, "run")
    from lstm_core.rundir import RunDir

    for damaged in ({"status": 5}, {"status": "finished", "pid": "me"}, ["finished"]):
        (run / "status.json").write_text(json.dumps(damaged))
        assert RunDir(run).read_status() == {}


@pytest.mark.parametrize("record", [{"n_frequencies": 10**12}, {"n_frequencies": -3}, {"n_frequencies": 0},
                                    {"n_frequencies": True}, {"hidden_size": 10**9}, {"model": "sequence"}])
def test_an_absurd_architecture_record_is_refused_before_a_model_is_built(record, tmp_path, monkeypatch):
    config = build_config({"frequencies": [2.0, 5.0], "fs": 100.0, "duration": 0.4, "hidden_size": 8})
    path = tmp_path / "odd.pt"
    save_checkpoint(path, model=build_model(config, 2), config=config, n_frequencies=2, epoch=1)
    payload = torch.load(path, weights_only=True)
    payload["architecture"].update(record)
    torch.save(payload, path)
    monkeypatch.setattr("lstm_core.checkpoint.build_model", lambda *a: pytest.fail("a model was built"))
    with pytest.raises(UserError) as err:
        model_from_checkpoint(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


# ---- failed starts leave no debris ---------------------------------------------------
@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_a_missing_device_leaves_the_users_empty_directory_reusable(device, tmp_path, capsys):
    if device.startswith("cuda") and torch.cuda.device_count() > int(device.partition(":")[2] or 0):
        pytest.skip(f"{device} exists here")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("mps exists here")
    mine = tmp_path / "mine"
    mine.mkdir()
    refused(capsys, ["train", *TINY, "--device", device, "--run-dir", str(mine)], "device")
    refused(capsys, ["train", *TINY, "--device", device, "--repeats", "2", "--runs-root", str(tmp_path / "r")],
            "device")
    assert list(mine.iterdir()) == [] and not (tmp_path / "r").exists()
    assert cli.main(["train", *TINY, "--run-dir", str(mine)]) == 0  # the same directory, now on the CPU
    assert (mine / "best.pt").is_file()


def test_resume_on_a_machine_without_the_runs_device_changes_nothing(tmp_path, capsys, monkeypatch):
    run = trained_run(tmp_path, "run", "--epochs", "3", "--patience", "5")
    (run / "status.json").write_text(json.dumps({"status": "interrupted"}))
    (run / "config.toml").write_text((run / "config.toml").read_text().replace('device = "cpu"', 'device = "cuda:3"'))
    before = snapshot(tmp_path)
    if torch.cuda.device_count() < 4:
        refused(capsys, ["train", "--resume", str(run)], "device")
    monkeypatch.setitem(precision._SUPPORT, ("bf16", "cpu"), "no bfloat16 LSTM")
    (run / "config.toml").write_text((run / "config.toml").read_text().replace('device = "cuda:3"', 'device = "cpu"')
                                     .replace('precision = "fp32"', 'precision = "bf16"'))
    before = snapshot(tmp_path)
    refused(capsys, ["train", "--resume", str(run)], "precision: bf16 cannot train on cpu")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("out, made", [("ev", False), ("a/b/ev", False), ("empty", True)])
def test_ctrl_c_during_evaluate_leaves_no_half_written_out(out, made, tmp_path, capsys, monkeypatch):
    run = trained_run(tmp_path, "run")
    if made:
        (tmp_path / out).mkdir()
    before = snapshot(tmp_path)

    def interrupted(*args, **kwargs):
        (tmp_path / out / "report.md").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr("lstm_core.report.export_report", interrupted)
    assert cli.main(["evaluate", str(run / "best.pt"), "--out", str(tmp_path / out)]) == 130
    assert capsys.readouterr().err == "freq-tui: interrupted\n"
    assert snapshot(tmp_path) == before
    assert (tmp_path / out).is_dir() == made and not (tmp_path / "a").exists()
    monkeypatch.undo()
    monkeypatch.setattr("lstm_core.runner.export_report", lambda *args, **kwargs: [])
    assert cli.main(["evaluate", str(run / "best.pt"), "--out", str(tmp_path / out)]) == 0  # the re-run works
    assert (tmp_path / out / "results.json").is_file()


def test_ctrl_c_while_the_process_shuts_down_is_one_line(tmp_path):
    code = ("import os, signal, time\nfrom lstm_core import cli\ncli._quiet_shutdown()\n"
            "os.kill(os.getpid(), signal.SIGINT)\ntime.sleep(30)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 130 and proc.stderr == "freq-tui: interrupted\n", proc.stderr


# ---- how much of a value a message repeats ----------------------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "--config", "/nonexistent/" + "d" * 5000 + "/c.toml"],
    ["train", "--frequencies", "1," + "x" * 5000],
    ["train", "--model", "m" * 3000],
    ["train", "--fs", "1" + "0" * 400],
    ["train", "--seed", str(10**40)],
    ["train", "--repeats", "9" * 5000],
    ["evaluate", "/nonexistent/" + "e" * 4000 + ".pt"],
    ["train", "--preset", "p" * 2000],
])
def test_messages_repeat_a_readable_part_of_the_input(argv, capsys):
    code = cli.main(argv) if argv[1] != "--repeats" else None
    if code is None:  # argparse's own error for a flag's type
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        code = exit_info.value.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and len(err) < 320, (len(err), err[:400])


def test_clip_keeps_both_ends_and_says_how_long():
    path = "/home/user/" + "x" * 5000 + "/config.toml"
    short = clip(path, 80)
    assert short.startswith("/home/user/") and "config.toml" in short and "5,023 chars" in short
    assert len(short) < 110 and clip("a\nb", 80) == "a b" and clip("short", 80) == "short"
    assert echo(10**30) == "1.000e+30" and echo(1e30) == "1e+30" and echo(42) == "42"
    assert len(echo("q" * 1000)) < 70 and echo("cpu") == "'cpu'"

"""Real audio: WAV files synthesised here in every supported encoding,
anti-aliased resampling, and `freq-tui extract` end to end."""
import csv
import struct
import wave

import numpy as np
import pytest
import torch

from lstm_core import feeding
from lstm_core.audio import (WAVE_FORMAT_EXTENSIBLE, WAVE_FORMAT_IEEE_FLOAT, WAVE_FORMAT_PCM, extract_audio,
                             fitted_amplitude, model_streams, sinusoid_fit, read_wav, resample, resample_ratio)
from lstm_core.checkpoint import model_from_checkpoint
from lstm_core.cli import main
from lstm_core.errors import UserError
from lstm_core.rundir import RunDir
from lstm_core.runner import run_training
from lstm_core.trainer import Trainer

RATE = 8000


def tone(seconds=0.25, rate=RATE, hz=50.0, amplitude=0.8):
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def pcm_bytes(x: np.ndarray, bits: int) -> bytes:
    """Interleaved float samples in [-1, 1) -> little-endian PCM bytes, full
    scale 2**(bits-1) (8-bit unsigned around 128), rounded to nearest."""
    if bits == 8:
        return np.clip(np.round(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    ints = np.clip(np.round(x * 2 ** (bits - 1)), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(np.int64)
    if bits == 24:
        return b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    return ints.astype(f"<i{bits // 8}").tobytes()


def write_pcm_with_wave(path, channels: np.ndarray, bits: int, rate=RATE):
    """The stdlib writer, independent of the reader under test."""
    interleaved = np.asarray(channels).T.reshape(-1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(pcm_bytes(interleaved, bits))
    return path


def write_riff(path, *, tag, channels, rate, bits, data: bytes, sub_tag=None, extra_chunks=b""):
    """A RIFF/WAVE file byte by byte (float and EXTENSIBLE, which `wave` cannot write)."""
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", sub_tag) + guid_tail
    body = b"WAVE" + extra_chunks + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


# ---- reading -------------------------------------------------------------------
@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_reads_pcm_of_every_width(tmp_path, bits):
    x = tone()
    tolerance = 0.501 / 2 ** (bits - 1)  # half a quantisation step
    audio = read_wav(write_pcm_with_wave(tmp_path / f"pcm{bits}.wav", [x], bits))
    assert audio.rate == RATE and audio.format.bits == bits and audio.format.encoding == "pcm"
    assert audio.samples.shape == x.shape
    assert np.max(np.abs(audio.samples - x)) <= tolerance


@pytest.mark.parametrize("bits, dtype", [(32, "<f4"), (64, "<f8")])
def test_reads_ieee_float(tmp_path, bits, dtype):
    x = tone(amplitude=1.5)  # float WAV may exceed full scale; kept as is
    path = write_riff(tmp_path / "f.wav", tag=WAVE_FORMAT_IEEE_FLOAT, channels=1, rate=RATE, bits=bits,
                      data=x.astype(dtype).tobytes())
    audio = read_wav(path)
    assert audio.format.encoding == "float"
    np.testing.assert_allclose(audio.samples, x, atol=1e-7)


def test_reads_wave_format_extensible(tmp_path):
    x = tone()
    pcm = write_riff(tmp_path / "e24.wav", tag=WAVE_FORMAT_EXTENSIBLE, sub_tag=WAVE_FORMAT_PCM, channels=1,
                     rate=RATE, bits=24, data=pcm_bytes(x, 24))
    flt = write_riff(tmp_path / "ef.wav", tag=WAVE_FORMAT_EXTENSIBLE, sub_tag=WAVE_FORMAT_IEEE_FLOAT, channels=1,
                     rate=RATE, bits=32, data=x.astype("<f4").tobytes())
    for path, tolerance in ((pcm, 0.501 / 2**23), (flt, 1e-7)):
        audio = read_wav(path)
        assert audio.format.extensible
        assert np.max(np.abs(audio.samples - x)) <= tolerance


def test_stereo_becomes_the_mean_of_its_channels(tmp_path):
    left, right = tone(hz=50.0, amplitude=0.6), tone(hz=120.0, amplitude=0.3)
    audio = read_wav(write_pcm_with_wave(tmp_path / "st.wav", [left, right], 16))
    assert audio.format.channels == 2
    np.testing.assert_allclose(audio.samples, (left + right) / 2, atol=1.001 / 32768)
    float_path = write_riff(tmp_path / "stf.wav", tag=WAVE_FORMAT_IEEE_FLOAT, channels=2, rate=RATE, bits=32,
                            data=np.stack([left, right], axis=1).astype("<f4").tobytes())
    np.testing.assert_allclose(read_wav(float_path).samples, (left + right) / 2, atol=1e-7)


def test_chunks_before_fmt_are_skipped(tmp_path):
    x = tone()
    path = write_riff(tmp_path / "l.wav", tag=WAVE_FORMAT_IEEE_FLOAT, channels=1, rate=RATE, bits=32,
                      data=x.astype("<f4").tobytes(), extra_chunks=b"LIST" + struct.pack("<I", 5) + b"abcde\x00")
    np.testing.assert_allclose(read_wav(path).samples, x, atol=1e-7)


@pytest.mark.parametrize("case, message", [
    ("text", "not a WAV file"),
    ("adpcm", "unsupported WAV encoding: 4-bit ADPCM"),
    ("pcm12", "unsupported WAV encoding: 12-bit PCM"),
    ("no_data", "no data chunk"),
    ("empty", "no audio samples"),
    ("nan", "NaN or infinite"),
    ("missing", "audio file not found"),
])
def test_unusable_files_name_the_file(tmp_path, case, message):
    path = tmp_path / f"{case}.wav"
    if case == "text":
        path.write_text("hello")
    elif case == "adpcm":
        write_riff(path, tag=0x0002, channels=1, rate=RATE, bits=4, data=b"\x00" * 64)
    elif case == "pcm12":
        write_riff(path, tag=WAVE_FORMAT_PCM, channels=1, rate=RATE, bits=12, data=b"\x00" * 64)
    elif case == "no_data":
        fmt = struct.pack("<HHIIHH", WAVE_FORMAT_PCM, 1, RATE, RATE * 2, 2, 16)
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    elif case == "empty":
        write_riff(path, tag=WAVE_FORMAT_IEEE_FLOAT, channels=1, rate=RATE, bits=32, data=b"")
    elif case == "nan":
        write_riff(path, tag=WAVE_FORMAT_IEEE_FLOAT, channels=1, rate=RATE, bits=32,
                   data=np.array([0.1, np.nan, 0.2], dtype="<f4").tobytes())
    with pytest.raises(UserError) as err:
        read_wav(path)
    assert err.value.subject == str(path) and message in err.value.reason


# ---- resampling -------------------------------------------------------------------
def test_resample_ratio_is_exact_for_integer_rates():
    assert resample_ratio(44100, 1000) == pytest.approx(10 / 441) and resample_ratio(44100, 1000).denominator == 441
    assert resample_ratio(48000, 1000).numerator == 1 and resample_ratio(48000, 1000).denominator == 48
    assert resample_ratio(1000, 1000) == 1


def test_resampling_suppresses_a_tone_above_the_new_nyquist():
    """48 kHz -> 1 kHz: a 700 Hz tone is above the new Nyquist (500 Hz); plain
    decimation would fold it onto 300 Hz at full strength."""
    rate, seconds = 48_000, 2.0
    t = np.arange(int(rate * seconds)) / rate
    x = np.sin(2 * np.pi * 3.0 * t) + np.sin(2 * np.pi * 700.0 * t)
    y = resample(x, rate, 1000.0)
    assert y.shape == (2000,)
    t_new = np.arange(2000) / 1000.0
    core = slice(100, -100)  # away from the filter's edge transients
    assert fitted_amplitude(y[core], t_new[core], 3.0) == pytest.approx(1.0, abs=0.01)
    assert fitted_amplitude(y[core], t_new[core], 300.0) < 0.01  # the alias is gone
    naive = x[::48]
    assert fitted_amplitude(naive[core], t_new[core], 300.0) > 0.9  # what the test guards against


def test_resampling_keeps_a_tone_below_the_new_nyquist():
    rate = 44_100
    t = np.arange(rate) / rate
    y = resample(np.sin(2 * np.pi * 200.0 * t), rate, 1000.0)
    t_new = np.arange(y.shape[0]) / 1000.0
    assert y.shape == (1000,)
    assert fitted_amplitude(y[50:-50], t_new[50:-50], 200.0) == pytest.approx(1.0, abs=0.01)


def test_sinusoid_fit_measures_amplitude_and_share_of_variance():
    t = np.arange(2000) / 1000.0
    amplitude, r2 = sinusoid_fit(0.5 * np.sin(2 * np.pi * 3.0 * t + 1.0) + 0.2, t, 3.0)
    assert amplitude == pytest.approx(0.5) and r2 == pytest.approx(1.0)
    noise = np.random.default_rng(0).normal(size=2000)
    amplitude, r2 = sinusoid_fit(np.sin(2 * np.pi * 3.0 * t) + noise, t, 3.0)
    assert amplitude == pytest.approx(1.0, abs=0.1) and r2 == pytest.approx(0.5 / 1.5, abs=0.05)
    assert np.isnan(sinusoid_fit(np.ones(2000), t, 3.0)[1])


# ---- extract end to end ---------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny trained runs (fs 100 Hz, components at 2 and 5 Hz), one per model."""
    from lstm_core.config import build_config

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for model in ("stateful", "sequence", "attention", "multitask"):
        config = build_config(dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=1, hidden_size=8,
                                   batch_size=16, device="cpu", noise="informative", model=model,
                                   sequence_length=5, run_dir=str(root / model)))
        (root / model).mkdir()
        Trainer(config, RunDir(root / model)).fit()  # writes best.pt; evaluation is not needed here
        runs[model] = root / model / "best.pt"
    return runs


@pytest.mark.parametrize("model", ["stateful", "sequence", "attention", "multitask"])
def test_extract_writes_components_for_every_model(tmp_path, checkpoints, model):
    left = tone(seconds=1.0, hz=2.0, amplitude=0.5) + tone(seconds=1.0, hz=1000.0, amplitude=0.3)
    right = tone(seconds=1.0, hz=5.0, amplitude=0.4)
    wav = write_pcm_with_wave(tmp_path / "in.wav", [left, right], 16)
    result = extract_audio(wav, checkpoints[model], tmp_path / "out")
    assert result.components.shape == (2, 100) and result.signal.shape == (100,)
    assert np.all(np.isfinite(result.components))
    # The components are exactly the model's predictions on the resampled, scaled input.
    net, config, _ = model_from_checkpoint(checkpoints[model])
    expected = feeding.predict(net, config, model_streams(result.signal, 2)).numpy()
    np.testing.assert_allclose(result.components, expected, atol=1e-6)
    # Model-free reference: the input holds 2 and 5 Hz at 0.25 and 0.2 times the gain.
    np.testing.assert_allclose(result.fitted_amplitudes, [0.25 * result.gain, 0.2 * result.gain], rtol=0.02)

    with np.load(tmp_path / "out" / "components.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["components"], result.components)
        assert float(npz["source_rate"]) == RATE and float(npz["fs"]) == 100.0
    with open(tmp_path / "out" / "components.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t", "input", "f_2Hz", "f_5Hz"] and len(rows) == 101
    assert float(rows[5][2]) == pytest.approx(result.components[0, 4], rel=1e-6)
    assert (tmp_path / "out" / "components.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_normalising_scales_to_the_training_rms(tmp_path, checkpoints):
    wav = write_pcm_with_wave(tmp_path / "in.wav", [tone(seconds=1.0, hz=2.0, amplitude=0.1)], 16)
    scaled = extract_audio(wav, checkpoints["stateful"], tmp_path / "a")
    raw = extract_audio(wav, checkpoints["stateful"], tmp_path / "b", normalise=False)
    assert raw.gain == 1.0 and scaled.gain > 1.0
    np.testing.assert_allclose(scaled.signal, raw.signal * scaled.gain)


def test_cli_extract(tmp_path, checkpoints, capsys):
    wav = write_pcm_with_wave(tmp_path / "in.wav", [tone(seconds=1.0, hz=2.0)], 24)
    run_dir = checkpoints["multitask"].parent  # a run directory stands for its best.pt
    assert main(["extract", str(wav), "--checkpoint", str(run_dir), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert f"{wav}: 8000 Hz -> 100 Hz, 100 samples" in out and "components.png" in out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["components.csv", "components.npz", "components.png"]


@pytest.mark.parametrize("case, message", [
    ("low_rate", "cannot hold the model's 5 Hz component"),
    ("short", "the model needs at least 0.5 s"),
    ("format", "unsupported WAV encoding"),
])
def test_cli_extract_unusable_wav_is_one_line_exit_2(tmp_path, checkpoints, capsys, case, message):
    path = tmp_path / f"{case}.wav"
    if case == "low_rate":  # 10 Hz: Nyquist 5 Hz, the model's 5 Hz component cannot be in it
        write_pcm_with_wave(path, [tone(seconds=2.0, rate=10, hz=1.0)], 16, rate=10)
    elif case == "short":  # 0.1 s, but the lowest component (2 Hz) needs 0.5 s
        write_pcm_with_wave(path, [tone(seconds=0.1)], 16)
    else:
        write_riff(path, tag=0x0007, channels=1, rate=RATE, bits=8, data=b"\x00" * 100)
    code = main(["extract", str(path), "--checkpoint", str(checkpoints["stateful"]), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"freq-tui: error: {path}: ") and message in err
    assert not (tmp_path / "o").exists()


def test_cli_extract_bad_checkpoint_is_exit_2(tmp_path, capsys):
    wav = write_pcm_with_wave(tmp_path / "in.wav", [tone()], 16)
    (tmp_path / "x.pt").write_text("not a checkpoint")
    assert main(["extract", str(wav), "--checkpoint", str(tmp_path / "x.pt")]) == 2
    assert str(tmp_path / "x.pt") in capsys.readouterr().err


# ---- the app: Evaluate screen, key a ---------------------------------------------------
async def test_app_extracts_audio_from_the_evaluate_screen(tmp_path, monkeypatch):
    from textual.widgets import Input

    from lstm_core.config import build_config
    from tui.app import FreqApp
    from tui.screens.dialogs import ErrorDialog, PathDialog
    from tui.screens.evaluate import EvaluateScreen

    monkeypatch.chdir(tmp_path)
    tiny = {"duration": 0.4, "fs": 100.0, "frequencies": [2.0, 5.0], "epochs": 1, "hidden_size": 8, "device": "cpu"}
    outcome = run_training(build_config(tiny), runs_root="runs")
    wav = write_pcm_with_wave(tmp_path / "song.wav", [tone(seconds=1.0, hz=2.0)], 16)
    (tmp_path / "bad.wav").write_text("not audio")
    app = FreqApp(tiny, runs_root="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_evaluation(str(outcome.run_dir.path))
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EvaluateScreen) and screen.evaluated is not None

        await pilot.press("a")
        assert isinstance(app.screen, PathDialog)
        app.screen.query_one("#path", Input).value = str(wav)
        await pilot.press("enter")
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        out = outcome.run_dir.path / "song-components"
        assert screen.extracted is not None and screen.extracted.out_dir == out
        assert sorted(p.name for p in out.iterdir()) == ["components.csv", "components.npz", "components.png"]

        await pilot.press("a")
        app.screen.query_one("#path", Input).value = str(tmp_path / "bad.wav")
        await pilot.press("enter")
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "bad.wav: not a WAV file" in app.screen.text

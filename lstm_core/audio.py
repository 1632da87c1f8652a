"""Real audio (guide 8.4): read a WAV file, resample it to a trained model's
sampling rate, run the model for each trained frequency, and write what it
extracted (npz, CSV and a PNG of input and outputs).

WAV reading needs no extra package: the RIFF chunks are walked here and PCM,
32/64-bit float (WAVE_FORMAT_IEEE_FLOAT) and WAVE_FORMAT_EXTENSIBLE data are
decoded from the data chunk found, whose length is what the file holds,
whatever its header claims. Anything that cannot be used is a UserError
naming the file.
"""
from __future__ import annotations

import dataclasses
import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .config import MAX_INPUT_VALUES
from .errors import UserError
from .files import MAX_AUDIO_BYTES, atomic_write, atomic_write_bytes, atomic_write_text, ensure_folder, read_regular

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
FORMAT_NAMES = {0x0002: "ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0055: "MP3"}
PCM_BITS = (8, 16, 24, 32)
FLOAT_BITS = (32, 64)
# up and down of the resampling ratio (in lowest terms) stay at most this: the
# low-pass filter has about 20 * max(up, down) taps.
MAX_RESAMPLE_FACTOR = 1 << 17


@dataclass(frozen=True)
class WavFormat:
    encoding: str  # "pcm" or "float" (EXTENSIBLE already resolved to its sub-format)
    channels: int
    rate: int
    bits: int  # container bits per sample
    block_align: int
    extensible: bool


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # (N,) float64, mono (mean of channels), full scale = 1.0
    rate: int
    format: WavFormat


# ---- reading -----------------------------------------------------------------
def _chunks(path: Path, blob: bytes) -> dict[bytes, bytes]:
    """The first chunk of each id in a RIFF/WAVE file. A data chunk whose
    declared size runs past the end (a recording cut short) is clipped."""
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise UserError(str(path), "not a WAV file (no RIFF/WAVE header)")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(blob):
        chunk_id = blob[pos : pos + 4]
        (size,) = struct.unpack_from("<I", blob, pos + 4)
        chunks.setdefault(chunk_id, blob[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    return chunks


def _parse_fmt(path: Path, fmt: bytes) -> WavFormat:
    if len(fmt) < 16:
        raise UserError(str(path), "WAV fmt chunk is missing or too short")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    extensible = tag == WAVE_FORMAT_EXTENSIBLE
    if extensible:
        if len(fmt) < 40:
            raise UserError(str(path), "WAVE_FORMAT_EXTENSIBLE fmt chunk is too short for its sub-format")
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the sub-format GUID
    if tag == WAVE_FORMAT_PCM and bits in PCM_BITS:
        encoding = "pcm"
    elif tag == WAVE_FORMAT_IEEE_FLOAT and bits in FLOAT_BITS:
        encoding = "float"
    else:
        name = {WAVE_FORMAT_PCM: "PCM", WAVE_FORMAT_IEEE_FLOAT: "float"}.get(tag) or FORMAT_NAMES.get(tag, f"format 0x{tag:04x}")
        raise UserError(str(path), f"unsupported WAV encoding: {bits}-bit {name} "
                                   "(supported: 8/16/24/32-bit PCM, 32/64-bit float)")
    if channels < 1:
        raise UserError(str(path), "WAV header declares no channels")
    if block_align != channels * bits // 8:
        raise UserError(str(path), f"WAV block align {block_align} does not fit {channels} channel(s) of {bits} bits")
    return WavFormat(encoding, channels, rate, bits, block_align, extensible)


def _decode(raw: bytes, fmt: WavFormat) -> np.ndarray:
    """Interleaved little-endian samples -> (frames, channels) float64 in [-1, 1]."""
    frames = len(raw) // fmt.block_align
    raw = raw[: frames * fmt.block_align]
    if fmt.encoding == "float":
        values = np.frombuffer(raw, dtype="<f4" if fmt.bits == 32 else "<f8").astype(np.float64)
    elif fmt.bits == 8:  # 8-bit WAV is unsigned, centred on 128
        values = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif fmt.bits == 24:  # three bytes, little-endian, two's complement
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        values = np.where(ints >= 1 << 23, ints - (1 << 24), ints).astype(np.float64) / float(1 << 23)
    else:
        values = np.frombuffer(raw, dtype=f"<i{fmt.bits // 8}").astype(np.float64) / float(1 << (fmt.bits - 1))
    return values.reshape(frames, fmt.channels)


def read_wav(path: str | Path) -> Audio:
    """A WAV file as mono float64 samples (the mean of its channels)."""
    path = Path(path)
    chunks = _chunks(path, read_regular(path, "audio file", MAX_AUDIO_BYTES))
    fmt = _parse_fmt(path, chunks.get(b"fmt ", b""))
    if b"data" not in chunks:
        raise UserError(str(path), "WAV file has no data chunk")
    samples = _decode(chunks[b"data"], fmt)
    if samples.shape[0] == 0:
        raise UserError(str(path), "WAV file contains no audio samples")
    if not np.all(np.isfinite(samples)):
        raise UserError(str(path), "WAV file contains NaN or infinite samples")
    return Audio(samples.mean(axis=1), fmt.rate, fmt)


# ---- resampling ------------------------------------------------------------
def resample_ratio(rate: float, target: float) -> Fraction:
    """target / rate exactly, in lowest terms (1000/44100 = 10/441, 100/192000
    = 1/1920); each rate is taken as written (its shortest decimal form).
    A UserError where up or down would exceed MAX_RESAMPLE_FACTOR (a rate
    with many decimals, or rates more than 2**17 apart)."""
    ratio = Fraction(repr(float(target))) / Fraction(repr(float(rate)))
    if max(ratio.numerator, ratio.denominator) > MAX_RESAMPLE_FACTOR:
        raise UserError("sample rate", f"cannot resample {rate:g} Hz to {target:g} Hz exactly: the ratio "
                                       f"{ratio.numerator}/{ratio.denominator} needs factors above {MAX_RESAMPLE_FACTOR:,}")
    return ratio


def resampled_length(n_samples: int, ratio: Fraction) -> int:
    """The length resample() gives (scipy's resample_poly: ceil(n * up / down))."""
    return -(-n_samples * ratio.numerator // ratio.denominator)


def resample(samples: np.ndarray, rate: float, target: float) -> np.ndarray:
    """Polyphase resampling with scipy's Kaiser-windowed low-pass at the
    lower of the two Nyquist rates, so content above the new Nyquist is
    filtered out instead of aliasing onto the model's frequencies."""
    from scipy.signal import resample_poly

    ratio = resample_ratio(rate, target)
    if ratio == 1:
        return np.asarray(samples, dtype=np.float64).copy()
    return resample_poly(np.asarray(samples, dtype=np.float64), ratio.numerator, ratio.denominator)


# ---- extraction ------------------------------------------------------------
@dataclass
class Extraction:
    source: Path
    out_dir: Path
    files: list[Path]
    source_rate: int
    fs: float
    gain: float  # applied to the resampled audio before it reached the model
    t: np.ndarray  # (N,)
    signal: np.ndarray  # (N,) the model's input
    frequencies: np.ndarray  # (K,)
    components: np.ndarray  # (K, N) the model's outputs
    fitted_amplitudes: np.ndarray  # (K,) least-squares sinusoid amplitude of the input at each f
    output_r2: np.ndarray  # (K,) share of each output's variance that a sinusoid at its f explains


def sinusoid_fit(signal: np.ndarray, t: np.ndarray, hz: float) -> tuple[float, float]:
    """Least-squares fit a sin + b cos + c at `hz`: its amplitude, and R^2,
    the share of the signal's variance it explains (NaN for a constant
    signal). Model-free: no ground truth exists for real audio."""
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, signal, rcond=None)
    total = float(np.sum((signal - signal.mean()) ** 2))
    r2 = 1.0 - float(np.sum((signal - basis @ coef) ** 2)) / total if total > 0 else float("nan")
    return float(np.hypot(coef[0], coef[1])), r2


def fitted_amplitude(signal: np.ndarray, t: np.ndarray, hz: float) -> float:
    """How much of frequency `hz` a signal holds (amplitude of the best fit)."""
    return sinusoid_fit(signal, t, hz)[0]


def model_streams(signal: np.ndarray, n_frequencies: int) -> torch.Tensor:
    """[S[t], one-hot C] for every frequency, (K, N, 1+K), as in training."""
    inputs = torch.zeros(n_frequencies, signal.shape[0], 1 + n_frequencies)
    inputs[:, :, 0] = torch.from_numpy(signal.astype(np.float32))[None, :]
    inputs[torch.arange(n_frequencies), :, 1 + torch.arange(n_frequencies)] = 1.0
    return inputs


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run directory (its best.pt)."""
    path = Path(path)
    return path / "best.pt" if path.is_dir() else path


def default_out_dir(audio_path: str | Path) -> Path:
    return Path(f"{Path(audio_path).stem}-components")


def extract_audio(
    audio_path: str | Path,
    checkpoint: str | Path,
    out_dir: Optional[str | Path] = None,
    *,
    normalise: bool = True,
    device: str = "cpu",
) -> Extraction:
    """Run the model of `checkpoint` on a WAV file, once per trained frequency,
    and write components.npz, components.csv and components.png to `out_dir`.

    With `normalise`, the audio is scaled to the RMS of the model's training
    signal S (the level the model saw); the gain is recorded."""
    from . import feeding
    from .checkpoint import model_from_checkpoint
    from .data import generate_for

    audio_path = Path(audio_path)
    model, config, _ = model_from_checkpoint(resolve_checkpoint(checkpoint), device)
    audio = read_wav(audio_path)
    frequencies = np.asarray(config.frequencies, dtype=np.float64)
    if audio.rate <= 0:
        raise UserError(str(audio_path), f"WAV sample rate {audio.rate} Hz is not usable")
    if audio.rate / 2 <= frequencies.max():
        raise UserError(str(audio_path), f"sample rate {audio.rate} Hz cannot hold the model's {frequencies.max():g} Hz "
                                         f"component (its Nyquist rate is {audio.rate / 2:g} Hz)")
    try:
        ratio = resample_ratio(audio.rate, config.fs)
    except UserError as exc:
        raise UserError(str(audio_path), exc.reason) from None
    _check_size(audio_path, resampled_length(audio.samples.shape[0], ratio), config)
    signal = resample(audio.samples, audio.rate, config.fs)
    shortest = 1.0 / frequencies.min()
    if signal.shape[0] / config.fs < shortest:
        raise UserError(str(audio_path), f"audio is {audio.samples.shape[0] / audio.rate:.4g} s long; the model needs at least "
                                         f"{shortest:.4g} s (one period of its lowest frequency, {frequencies.min():g} Hz)")
    gain = 1.0
    if normalise:
        rms = float(np.sqrt(np.mean(signal**2)))
        train_rms = float(np.sqrt(np.mean(generate_for(config, config.train_seed).S ** 2)))
        gain = train_rms / rms if rms > 0 else 1.0
    signal = signal * gain
    t = np.arange(signal.shape[0]) / config.fs

    inputs = model_streams(signal, len(frequencies)).to(device)
    components = feeding.predict(model, config, inputs).cpu().numpy().astype(np.float64)

    out = Path(out_dir) if out_dir is not None else default_out_dir(audio_path)
    ensure_folder(out, "output directory")
    result = Extraction(
        source=audio_path, out_dir=out, files=[], source_rate=audio.rate, fs=config.fs, gain=gain, t=t,
        signal=signal, frequencies=frequencies, components=components,
        fitted_amplitudes=np.array([fitted_amplitude(signal, t, hz) for hz in frequencies]),
        output_r2=np.array([sinusoid_fit(component, t, hz)[1] for component, hz in zip(components, frequencies)]),
    )
    result.files = write_outputs(result, config.model)
    return result


def _check_size(audio_path: Path, n_samples: int, config) -> None:
    """The resampled audio is fed as K streams, like a data set of the model's
    config: the same bounds (input values, memory) hold before it is built."""
    from .device import check_environment

    k = len(config.frequencies)
    if n_samples * k * (k + 1) > MAX_INPUT_VALUES:
        raise UserError(str(audio_path), f"audio is {n_samples:,} samples at {config.fs:g} Hz: too long for "
                                         f"{k} streams (at most {MAX_INPUT_VALUES:,} input values)")
    check_environment(dataclasses.replace(config, duration=n_samples / config.fs, device="cpu"), train=False)


def write_outputs(result: Extraction, model_name: str) -> list[Path]:
    out = result.out_dir
    npz_path, csv_path, png_path = out / "components.npz", out / "components.csv", out / "components.png"
    arrays = {
        "t": result.t, "input": result.signal, "components": result.components, "frequencies": result.frequencies,
        "source_rate": np.asarray(result.source_rate), "fs": np.asarray(result.fs), "gain": np.asarray(result.gain),
        "fitted_amplitudes": result.fitted_amplitudes, "output_r2": result.output_r2,
    }
    atomic_write(npz_path, lambda f: np.savez(f, **arrays))

    header = ",".join(["t", "input", *(f"f_{hz:g}Hz" for hz in result.frequencies)])
    table = np.column_stack([result.t, result.signal, result.components.T])
    text = io.StringIO()
    np.savetxt(text, table, delimiter=",", header=header, comments="", fmt="%.9g")
    atomic_write_text(csv_path, text.getvalue())

    from .figures import extraction_figure, to_png  # matplotlib only when writing

    atomic_write_bytes(png_path, to_png(extraction_figure(result, model_name)))
    return [npz_path, csv_path, png_path]

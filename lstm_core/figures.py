"""The report's figures, drawn on the test set with matplotlib's Agg backend.

Figures are built with matplotlib.figure.Figure and rendered to PNG bytes
without pyplot, so no global state is touched and the app can draw them
from a worker thread. Nothing is written here: the report writes the bytes
once every figure has rendered, so a failure leaves old files untouched.
"""
from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .data import SignalSet
from .drift import DRIFT_LIMIT_DEG, Drift
from .events import EpochRecord, best_record
from .formatting import mse as mse_text
from .metrics import amplitude_spectrum

if TYPE_CHECKING:
    from .evaluation import Evaluation

DPI = 150
NAMES = ("graph1_single_frequency.png", "graph2_all_frequencies.png", "training_curves.png",
         "fft_analysis.png", "error_distribution.png", "phase_drift.png")
WINDOW_S = 2.0  # seconds of the test set shown in the time plots
TARGET, OUTPUT, SIGNAL = "tab:green", "tab:blue", "0.6"
AMPLITUDE = "Amplitude (a.u.)"


def to_png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _window(test: SignalSet) -> slice:
    return slice(0, max(2, min(test.n_samples, int(round(WINDOW_S * test.fs)))))


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n == 1 else 2
    return math.ceil(n / cols), cols


def _time_panel(ax, test: SignalSet, output: np.ndarray, k: int, *, legend: bool) -> None:
    w = _window(test)
    t = test.t[w]
    ax.plot(t, test.S[w], color=SIGNAL, linewidth=0.6, alpha=0.6, label="mixed signal S")
    ax.plot(t, test.targets[k, w], color=TARGET, linewidth=2.0, label="target")
    ax.plot(t, output[k, w], ".", color=OUTPUT, markersize=2.0, label="LSTM output")
    ax.set_title(f"f{k + 1} = {test.frequencies[k]:g} Hz")
    ax.set_xlabel("Time (s)")
    ax.set_ylabel(AMPLITUDE)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="upper right", fontsize=8)


def single_frequency(test: SignalSet, output: np.ndarray) -> Figure:
    k = 1 if test.n_frequencies > 1 else 0  # f2, as the guide shows
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    ax = figure.add_subplot()
    _time_panel(ax, test, output, k, legend=True)
    ax.set_title(f"Test set, f{k + 1} = {test.frequencies[k]:g} Hz: target, LSTM output and mixed signal S")
    return figure


def all_frequencies(test: SignalSet, output: np.ndarray) -> Figure:
    rows, cols = _grid(test.n_frequencies)
    figure = Figure(figsize=(6 * cols, 3.6 * rows), layout="constrained")
    for k in range(test.n_frequencies):
        _time_panel(figure.add_subplot(rows, cols, k + 1), test, output, k, legend=(k == 0))
    figure.suptitle("Test set: every frequency (first %g s)" % (_window(test).stop / test.fs))
    return figure


def training_curves(history: Sequence[EpochRecord], zero_mse: float | None = None) -> Figure:
    """Loss per epoch with the zero predictor's MSE for scale (train, val and
    test share their targets, so one line holds for all three)."""
    figure = Figure(figsize=(10, 6.5), layout="constrained")
    loss_ax, lr_ax = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    epochs = [r.epoch for r in history]
    if history:
        loss_ax.plot(epochs, [r.train_loss for r in history], "o-", markersize=3, label="train loss")
        loss_ax.plot(epochs, [r.val_loss for r in history], "s-", markersize=3, label="validation loss")
        if zero_mse is not None:
            loss_ax.axhline(zero_mse, color="tab:red", linestyle=":", label=f"zero predictor ({mse_text(zero_mse)})")
        best = best_record(history)
        if best:
            loss_ax.axvline(best.epoch, color="0.5", linestyle="--", label=f"best epoch {best.epoch}")
        lr_ax.plot(epochs, [r.lr for r in history], "o-", markersize=3, color="tab:purple", label="learning rate")
        losses = [loss for r in history for loss in (r.train_loss, r.val_loss)] + ([zero_mse] if zero_mse else [])
        if min(losses) > 0 and max(losses) / min(losses) > 10:  # log only when it spans a decade
            loss_ax.set_yscale("log")
        lr_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        rates = [r.lr for r in history]
        if min(rates) > 0 and max(rates) / min(rates) > 10:
            lr_ax.set_yscale("log")
        lr_ax.legend(loc="upper right")
    else:
        loss_ax.text(0.5, 0.5, "no training history in this run directory", ha="center", transform=loss_ax.transAxes)
    loss_ax.set_ylabel("MSE loss (a.u.²)")
    loss_ax.set_title("Training curves")
    loss_ax.grid(alpha=0.3)
    if history:
        loss_ax.legend(loc="upper right")
    lr_ax.set_xlabel("Epoch")
    lr_ax.set_ylabel("Learning rate")
    lr_ax.grid(alpha=0.3)
    return figure


def fft_analysis(test: SignalSet, output: np.ndarray) -> Figure:
    rows, cols = _grid(test.n_frequencies)
    figure = Figure(figsize=(6 * cols, 3.6 * rows), layout="constrained")
    top = min(test.fs / 2, 2.0 * float(np.max(test.frequencies)) + 2.0)
    hz, s_amp = amplitude_spectrum(test.S, test.fs)
    shown = hz <= top
    floor = 1e-6
    for k in range(test.n_frequencies):
        ax = figure.add_subplot(rows, cols, k + 1)
        _, t_amp = amplitude_spectrum(test.targets[k], test.fs)
        _, o_amp = amplitude_spectrum(output[k], test.fs)
        ax.plot(hz[shown], np.maximum(s_amp[shown], floor), color=SIGNAL, linewidth=0.8, label="mixed signal S")
        ax.plot(hz[shown], np.maximum(t_amp[shown], floor), color=TARGET, linewidth=2.0, label="target")
        ax.plot(hz[shown], np.maximum(o_amp[shown], floor), color=OUTPUT, linewidth=1.0, label="LSTM output")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 2.0)
        ax.set_title(f"f{k + 1} = {test.frequencies[k]:g} Hz")
        ax.set_xlabel("Frequency (Hz)")
        ax.set_ylabel(AMPLITUDE)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(loc="upper right", fontsize=8)
    figure.suptitle("Amplitude spectra on the test set (one-sided FFT)")
    return figure


def error_distribution(test: SignalSet, output: np.ndarray) -> Figure:
    figure = Figure(figsize=(15, 4.5), layout="constrained")
    hist_ax, scatter_ax, time_ax = figure.subplots(1, 3)
    errors = output - test.targets
    bins = np.linspace(float(errors.min()), float(errors.max()), 60) if errors.size and errors.max() > errors.min() else 60
    for k, hz in enumerate(test.frequencies):
        hist_ax.hist(errors[k], bins=bins, histtype="step", linewidth=1.2, label=f"{hz:g} Hz")
    hist_ax.set_xlabel("Error: output − target (a.u.)")
    hist_ax.set_ylabel("Samples")
    hist_ax.set_title("Error histogram")
    hist_ax.legend(fontsize=8)
    hist_ax.grid(alpha=0.3)

    rng = np.random.default_rng(0)  # a fixed subsample keeps the scatter readable
    for k, hz in enumerate(test.frequencies):
        idx = rng.choice(test.n_samples, size=min(test.n_samples, 2000), replace=False)
        scatter_ax.scatter(test.targets[k, idx], output[k, idx], s=2, alpha=0.4, label=f"{hz:g} Hz")
    scatter_ax.plot([-1, 1], [-1, 1], color="black", linewidth=1, label="output = target")
    scatter_ax.set_xlabel("Target (a.u.)")
    scatter_ax.set_ylabel("LSTM output (a.u.)")
    scatter_ax.set_title("Prediction vs target")
    scatter_ax.legend(fontsize=8, markerscale=4)
    scatter_ax.grid(alpha=0.3)

    window = max(1, min(test.n_samples, int(round(0.1 * test.fs))))  # 0.1 s moving RMS
    kernel = np.ones(window) / window
    centres = test.t[(window - 1) // 2 : (window - 1) // 2 + test.n_samples - window + 1]
    for k, hz in enumerate(test.frequencies):
        # "valid" windows only: no zero padding pulling the ends down
        rms = np.sqrt(np.convolve(errors[k] ** 2, kernel, mode="valid"))
        time_ax.plot(centres, rms, linewidth=0.8, label=f"{hz:g} Hz")
    time_ax.set_xlabel("Time (s)")
    time_ax.set_ylabel("RMS error over %g s (a.u.)" % (window / test.fs))
    time_ax.set_title("Error over time")
    time_ax.legend(fontsize=8)
    time_ax.grid(alpha=0.3)
    return figure


def phase_drift(drift: Drift) -> Figure:
    """Per frequency: the output's phase error against the target over time
    (left) and its instantaneous frequency (right), test set."""
    k_count = drift.frequencies.shape[0]
    figure = Figure(figsize=(12, 2.6 * k_count + 0.6), layout="constrained")
    axes = figure.subplots(k_count, 2, squeeze=False, sharex=True)
    for k, hz in enumerate(drift.frequencies):
        row = drift.summary[k]
        error_ax, freq_ax = axes[k]
        error_ax.plot(drift.t, drift.phase_error_deg[k], color=OUTPUT, linewidth=1.0)
        error_ax.axhline(0, color=TARGET, linewidth=1.5)
        for sign in (1, -1):
            error_ax.axhline(sign * DRIFT_LIMIT_DEG, color="0.5", linestyle=":", linewidth=1.0)
        rate = "" if row.drift_deg_per_s is None else f", drift {row.drift_deg_per_s:+.1f}°/s"
        error_ax.set_title(f"f{k + 1} = {hz:g} Hz: phase error{rate}")
        error_ax.set_ylabel("Output − target phase (°)")
        freq_ax.plot(drift.t, drift.frequency_hz[k], color=OUTPUT, linewidth=1.0, label="LSTM output")
        freq_ax.axhline(hz, color=TARGET, linewidth=1.5, label=f"target {hz:g} Hz")
        median = "" if row.output_hz is None else f", median {row.output_hz:.3f} Hz"
        freq_ax.set_title(f"f{k + 1}: instantaneous frequency of the output{median}")
        freq_ax.set_ylabel("Frequency (Hz)")
        if not np.isfinite(drift.phase_error_deg[k]).any():
            for ax in (error_ax, freq_ax):
                ax.text(0.5, 0.5, "no phase: the output hardly oscillates", ha="center", transform=ax.transAxes)
        for ax in (error_ax, freq_ax):
            ax.grid(alpha=0.3)
        if k == 0:
            freq_ax.legend(loc="upper right", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("Time (s)")
    figure.suptitle(f"Phase and frequency drift on the test set (analytic signal; dotted: ±{DRIFT_LIMIT_DEG:g}°)")
    return figure


def render_all(evaluation: "Evaluation", history: Sequence[EpochRecord]) -> dict[str, bytes]:
    """Every figure of the report, from what the evaluation measured (the zero
    predictor's MSE is its baseline, read, not worked out again)."""
    test, output, drift = evaluation.test, evaluation.predictions.test, evaluation.drift
    """PNG bytes of the figures, by file name."""
    figures = {
        "graph1_single_frequency.png": single_frequency(test, output),
        "graph2_all_frequencies.png": all_frequencies(test, output),
        "training_curves.png": training_curves(history, evaluation.scores.baselines.zero_mse),
        "fft_analysis.png": fft_analysis(test, output),
        "error_distribution.png": error_distribution(test, output),
        "phase_drift.png": phase_drift(drift),
    }
    return {name: to_png(figure) for name, figure in figures.items()}


def extraction_figure(result, model_name: str) -> Figure:
    """`freq-tui extract`: the audio input and each extracted component
    (result: an `audio.Extraction`)."""
    k = len(result.frequencies)
    figure = Figure(figsize=(10, 1.6 * (k + 1) + 0.6), layout="constrained")
    axes = figure.subplots(k + 1, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].plot(result.t, result.signal, lw=0.6, color="0.3")
    axes[0].set_ylabel("input")
    axes[0].set_title(f"{result.source.name}: {result.source_rate} Hz -> {result.fs:g} Hz, gain {result.gain:.3g}, "
                      f"{model_name} model")
    for ax, hz, component, amp in zip(axes[1:], result.frequencies, result.components, result.fitted_amplitudes):
        ax.plot(result.t, component, lw=0.8)
        ax.set_ylabel(f"{hz:g} Hz")
        ax.text(0.99, 0.9, f"input amplitude at {hz:g} Hz: {amp:.3g}", transform=ax.transAxes, ha="right", va="top",
                fontsize=8)
    axes[-1].set_xlabel("time (s)")
    return figure


# ---- comparing runs (lstm_core/compare.py) ---------------------------------------
def compare_losses(histories: dict[str, Sequence[EpochRecord]]) -> Figure:
    """Validation (solid) and training (dashed) loss of several runs, one
    colour per run, on a log axis."""
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    ax = figure.add_subplot()
    for i, (label, history) in enumerate(histories.items()):
        colour = f"C{i % 10}"
        epochs = [r.epoch for r in history]
        ax.plot(epochs, [r.val_loss for r in history], "-", color=colour, linewidth=1.6, label=f"{label}: validation")
        ax.plot(epochs, [r.train_loss for r in history], "--", color=colour, linewidth=1.0, label=f"{label}: train")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Epoch")
    ax.set_ylabel("MSE loss (a.u.², log scale)")
    ax.set_title("Loss per epoch")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return figure


def compare_per_frequency(frequencies: Sequence[float], test_mse: dict[str, Sequence[float]],
                          zero_mse: Sequence[float]) -> Figure:
    """Test MSE per frequency, one bar per run; a dotted line at each run's
    zero-predictor MSE (one line when the runs share their data)."""
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    ax = figure.add_subplot()
    x = np.arange(len(frequencies))
    width = 0.8 / max(len(test_mse), 1)
    for i, (label, values) in enumerate(test_mse.items()):
        ax.bar(x + (i - (len(test_mse) - 1) / 2) * width, values, width, color=f"C{i % 10}", label=label)
    for j, level in enumerate(sorted(set(round(float(z), 9) for z in zero_mse))):
        ax.axhline(level, color="tab:red", linestyle=":", label="zero predictor" if j == 0 else None)
    ax.set_xticks(x, [f"{hz:g} Hz" for hz in frequencies])
    ax.set_yscale("log")
    ax.set_ylabel("Test MSE (log scale)")
    ax.set_title("Test MSE per frequency")
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend(fontsize=8)
    return figure

"""The report of a run: report.md and a single-file report.html (figures
embedded as base64, so it opens offline), plus the five PNGs, all in the
run directory.

Everything is computed and rendered in memory first and only then written,
each file atomically: a failed evaluation or render leaves whatever the run
directory held before untouched.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import math
import platform
import re
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import matplotlib

from .checkpoint import check_matches, library_versions, load_checkpoint, model_from_checkpoint
from .config import FIELDS, RunConfig
from .data import generate_for, splits_for
from .device import describe, resolve_device
from .errors import ConfigError, UserError
from .evaluate import full_evaluation
from .figures import NAMES as FIGURE_NAMES
from .figures import render_all
from .files import atomic_write_bytes, atomic_write_text
from .rundir import CONFIG, RunDir, state_text

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
DATA_FIELDS = tuple(name for name, spec in FIELDS.items() if spec.metadata["group"] == "data")
TRAINING_KEYS = ("status", "stop_reason", "epochs_run", "best_epoch", "best_val_loss", "train_time_s")

FIGURE_CAPTIONS = {
    "graph1_single_frequency.png": "f2 on the test set: target, LSTM output and the mixed signal S.",
    "graph2_all_frequencies.png": "Every frequency on the test set.",
    "training_curves.png": "Training and validation loss, and the learning rate, per epoch.",
    "fft_analysis.png": "Amplitude spectra of S, the target and the LSTM output on the test set.",
    "error_distribution.png": "Error histogram, prediction vs target, and RMS error over time (test set).",
}


# ---- evaluation -------------------------------------------------------------
def _as_run_dir(run_dir: RunDir | str | Path) -> RunDir:
    return run_dir if isinstance(run_dir, RunDir) else RunDir.open(run_dir)


def evaluation_device(config: RunConfig):
    """The run's device if this machine has it, else the best one it has."""
    try:
        return resolve_device(config.device)
    except ConfigError:
        return resolve_device("auto")


def with_data_of(model_config: RunConfig, data_config: RunConfig) -> RunConfig:
    """The model's own settings (how it is fed) with another run's data fields."""
    return dataclasses.replace(model_config, **{name: getattr(data_config, name) for name in DATA_FIELDS})


def evaluate_checkpoint(checkpoint: Path, data_config: RunConfig, device=None) -> tuple[dict[str, Any], RunConfig]:
    """Load a checkpoint and evaluate it on the data `data_config` describes.
    Returns the evaluation and the config it ran under."""
    device = device or evaluation_device(data_config)
    model, model_config, _ = model_from_checkpoint(checkpoint, device)
    config = with_data_of(model_config, data_config)
    splits = splits_for(config)
    if model.n_frequencies != splits["test"].n_frequencies:
        raise UserError(str(checkpoint), f"holds a model for {model.n_frequencies} frequencies but the data has "
                                         f"{splits['test'].n_frequencies}")
    results = full_evaluation(model, config, splits, device)
    results["evaluated_on"] = describe(device)
    return results, config


def evaluate_run(run_dir: RunDir | str | Path) -> dict[str, Any]:
    """Load the run's best.pt and evaluate it again on the run's data."""
    run_dir = _as_run_dir(run_dir)
    if not run_dir.best_checkpoint.exists():
        raise UserError(str(run_dir.path), "has no best.pt (no epoch finished in this run)")
    config = run_dir.read_config()
    # A best.pt of another model (copied in, or config.toml edited) is refused,
    # not evaluated under this run's name. The data may differ (evaluate's
    # output directories hold the data they were evaluated on).
    check_matches(load_checkpoint(run_dir.best_checkpoint), config, run_dir.best_checkpoint,
                  run_dir.file(CONFIG), ignore=DATA_FIELDS)
    results, _ = evaluate_checkpoint(run_dir.best_checkpoint, config)
    return results


# ---- report content -----------------------------------------------------------
def _num(value: Any, digits: int = 6) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a" if math.isnan(value) else str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def training_summary(run_dir: RunDir, results: dict[str, Any]) -> dict[str, Any]:
    """Training facts from the results, else the saved results, else status."""
    saved = run_dir.read_results() or {}
    status = run_dir.read_status()
    summary = {}
    for key in TRAINING_KEYS:
        summary[key] = results.get(key, saved.get(key))
    if summary["status"] is None:
        summary["status"] = state_text(run_dir.state())  # a killed run: stale (process gone)
    if summary["stop_reason"] is None:
        summary["stop_reason"] = status.get("message")
    return summary


def environment(results: dict[str, Any]) -> list[tuple[str, str]]:
    versions = results.get("versions") or library_versions()
    rows = [(name, version) for name, version in versions.items()]
    rows += [("matplotlib", matplotlib.__version__), ("python", platform.python_version()),
             ("platform", platform.platform())]
    if results.get("device"):
        rows.append(("training device", str(results["device"])))
    if results.get("precision"):
        rows.append(("training precision", f"{results['precision']} (evaluation: fp32)"))
    if results.get("evaluated_on"):
        rows.append(("evaluation device", str(results["evaluated_on"])))
    return rows


def sections(config: RunConfig, results: dict[str, Any], summary: dict[str, Any]) -> list[tuple[str, list]]:
    """The report as (title, blocks); a block is a paragraph (str) or a
    table (header tuple, rows). Rendered to Markdown and HTML alike."""
    config_rows = [(name, str(value)) for name, value in config.to_dict().items()]
    training_rows = [
        ("status", _num(summary["status"])),
        ("stop reason", _num(summary["stop_reason"])),
        ("epochs run", _num(summary["epochs_run"])),
        ("best epoch", _num(summary["best_epoch"])),
        ("best validation loss", _num(summary["best_val_loss"])),
        ("training time (s)", _num(summary["train_time_s"], 1)),
    ]
    metric_rows = [
        ("training MSE", _num(results["train_mse"])),
        ("test MSE", _num(results["test_mse"])),
        ("test/train ratio", f"{_num(results['ratio'], 3)} ({results['ratio_verdict']})"),
    ]
    per_frequency = [
        (str(i), f"{row['hz']:g}", _num(row["train_mse"]), _num(row["test_mse"]), _num(row["correlation"], 4))
        for i, row in enumerate(results["per_frequency"], 1)
    ]
    b, a, v = results["baselines"], results["ablation"], results["verdict"]
    comparison = [
        ("LSTM on the test set", _num(results["test_mse"])),
        ("zero predictor (mean squared target)", _num(b["zero_mse"])),
        (f"band-pass reference (non-causal, ±{b.get('bandpass_half_width_hz', float('nan')):g} Hz, fitted on train)",
         _num(b["bandpass_mse"])),
        ("LSTM with S replaced by zeros", _num(a["s_zero_mse"])),
        ("LSTM with S shuffled in time", _num(a["s_shuffled_mse"])),
    ]
    noisy = results.get("noisy_input")
    if noisy:  # the noise-augmentation check, when the run measured it
        comparison.append((f"LSTM with white noise on S at {noisy['snr_db']:g} dB SNR", _num(noisy["test_mse"])))
    bandpass_rows = [
        (f"{row['hz']:g}", _num(row["test_mse"]), _num(row.get("gain"), 4), _num(row.get("quadrature"), 4))
        for row in b["bandpass_per_frequency"]
    ]
    return [
        ("Configuration", [(("setting", "value"), config_rows)]),
        ("Environment", [(("component", "version / device"), environment(results))]),
        ("Training summary", [(("item", "value"), training_rows)]),
        ("Metrics", ["MSE over all rows of each set.", (("metric", "value"), metric_rows)]),
        ("Per-frequency performance", [
            "Correlation is Pearson's r between output and target on the test set.",
            (("#", "Hz", "train MSE", "test MSE", "correlation"), per_frequency)]),
        ("Baselines, ablation and verdict", [
            "Train and test share identical targets, so MSE and ratio alone can mislead. "
            "Test-set MSE of the model, of two baselines, and of the model with its input S taken away:",
            (("predictor", "test MSE"), comparison),
            "Band-pass reference per frequency (gain and quadrature coefficients fitted by least squares):",
            (("Hz", "test MSE", "gain", "quadrature"), bandpass_rows),
            f"**Verdict ({v['code']}):** {v['text']}"]),
        ("Figures", [("figure", name) for name in FIGURE_NAMES]),
    ]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def to_markdown(title: str, parts: list[tuple[str, list]]) -> str:
    out = [f"# {title}", ""]
    for heading, blocks in parts:
        out += [f"## {heading}", ""]
        for block in blocks:
            if isinstance(block, str):
                out.append(block)
            elif block[0] == "figure":
                out.append(f"![{FIGURE_CAPTIONS[block[1]]}]({block[1]})")
                out.append(f"*{FIGURE_CAPTIONS[block[1]]}*")
            else:
                out.append(_md_table(*block))
            out.append("")
    return "\n".join(out)


def _html_text(text: str) -> str:
    escaped = html.escape(text)
    if escaped.startswith("**") and ":**" in escaped:  # the bold verdict label
        label, rest = escaped[2:].split(":**", 1)
        escaped = f"<strong>{label}:</strong>{rest}"
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)  # Markdown inline code
    return f"<p>{escaped}</p>"


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #ddd}figure{margin:1.5em 0}
figcaption{color:#555;font-style:italic}"""


def to_html(title: str, parts: list[tuple[str, list]], pngs: dict[str, bytes]) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    for heading, blocks in parts:
        out.append(f"<h2>{html.escape(heading)}</h2>")
        for block in blocks:
            if isinstance(block, str):
                out.append(_html_text(block))
            elif block[0] == "figure":
                data = base64.b64encode(pngs[block[1]]).decode("ascii")
                caption = html.escape(f"{block[1]}: {FIGURE_CAPTIONS[block[1]]}")
                out.append(f'<figure><img alt="{html.escape(block[1])}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{caption}</figcaption></figure>")
            else:
                out.append(_html_table(*block))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---- export -----------------------------------------------------------------------
def export_report(run_dir: RunDir | str | Path, results: Optional[dict[str, Any]] = None,
                  title: Optional[str] = None) -> list[Path]:
    """Write report.md, report.html and the five PNGs into the run directory
    and return their paths. `results` is an evaluation (with its arrays, as
    `full_evaluation` returns it); without one, best.pt is evaluated again."""
    run_dir = _as_run_dir(run_dir)
    config = run_dir.read_config()
    if results is None or "predictions" not in results:
        fresh = evaluate_run(run_dir)
        results = {**(results or {}), **fresh}
    test = generate_for(config, config.test_seed)
    output = results["predictions"]["test"]
    if output.shape != test.targets.shape:
        raise UserError(str(run_dir.path), "the predictions do not fit the run's test set (config.toml changed?)")
    summary = training_summary(run_dir, results)

    pngs = render_all(test, output, run_dir.read_metrics())
    title = title or f"freq-lstm report: {run_dir.path.name}"
    parts = sections(config, results, summary)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    parts[0][1].insert(0, f"Generated {stamp} from `{run_dir.path}`.")
    markdown, page = to_markdown(title, parts), to_html(title, parts, pngs)

    paths = []
    for name, data in pngs.items():
        atomic_write_bytes(run_dir.file(name), data)
        paths.append(run_dir.file(name))
    atomic_write_text(run_dir.file(REPORT_MD), markdown)
    atomic_write_text(run_dir.file(REPORT_HTML), page)
    return [run_dir.file(REPORT_MD), run_dir.file(REPORT_HTML), *paths]


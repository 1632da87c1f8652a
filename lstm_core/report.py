"""The report of a run: report.md and a single-file report.html (figures
embedded as base64, so it opens offline), plus the PNG figures, all in the
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
from typing import Any, Mapping, Optional, Sequence

import matplotlib

from .checkpoint import check_matches, library_versions, load_checkpoint, model_from_checkpoint
from .config import FIELDS, RunConfig
from .data import generate_for, splits_for
from .device import describe, resolve_device
from .errors import ConfigError, UserError
from .formatting import number
from .evaluate import full_evaluation
from .figures import NAMES as FIGURE_NAMES
from .figures import render_all
from .drift import DRIFT_LIMIT_DEG, VALID_ENVELOPE, Drift, phase_drift
from .files import atomic_write_bytes, atomic_write_text
from .rundir import CONFIG, RunDir, state_text

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
DATA_FIELDS = tuple(name for name, spec in FIELDS.items() if spec.metadata["group"] == "data")
OWN_SECTION_FIGURES = ("graph2_all_frequencies.png", "phase_drift.png")  # shown in their own sections
TRAINING_KEYS = ("status", "stop_reason", "epochs_run", "best_epoch", "best_val_loss", "train_time_s")

FIGURE_CAPTIONS = {
    "graph1_single_frequency.png": "f2 on the test set: target, LSTM output and the mixed signal S.",
    "graph2_all_frequencies.png": "Every frequency on the test set.",
    "training_curves.png": "Training and validation loss, and the learning rate, per epoch.",
    "fft_analysis.png": "Amplitude spectra of S, the target and the LSTM output on the test set.",
    "error_distribution.png": "Error histogram, prediction vs target, and RMS error over time (test set).",
    "phase_drift.png": "Phase error of the LSTM output against each target over time, and the output's "
                       "instantaneous frequency (test set, analytic signal).",
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


def _skill(mse: Any, zero_mse: Any) -> str:
    """The share of the target power a predictor explains, 1 - MSE / zero MSE."""
    if not (isinstance(mse, (int, float)) and isinstance(zero_mse, (int, float)) and zero_mse > 0
            and math.isfinite(mse)):
        return "n/a"
    return f"{100 * (1.0 - mse / zero_mse):.0f}%"


def settings_rows(config: RunConfig) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(settings that differ from the defaults with their defaults, every setting)."""
    values, defaults = config.to_dict(), RunConfig().to_dict()
    changed = [(name, str(value), str(defaults[name])) for name, value in values.items() if value != defaults[name]]
    return changed, [(name, str(value)) for name, value in values.items()]


def sections(config: RunConfig, results: dict[str, Any], summary: dict[str, Any], drift: Drift) -> list[tuple[str, list]]:
    """The report as (title, blocks), headline first; a block is a paragraph
    (str), a table (header tuple, rows), ("figure", name) or ("details",
    summary, header, rows), a table folded away. Rendered to Markdown and
    HTML alike."""
    b, a, v = results["baselines"], results["ablation"], results["verdict"]
    zero = b["zero_mse"]
    headline = [
        ("LSTM on the test set", number(results["test_mse"]), _skill(results["test_mse"], zero)),
        ("zero predictor (mean squared target)", number(zero), "0%"),
        (f"band-pass reference (non-causal, ±{b.get('bandpass_half_width_hz', float('nan')):g} Hz, fitted on train)",
         number(b["bandpass_mse"]), _skill(b["bandpass_mse"], zero)),
    ]
    per_frequency = [
        (str(i), f"{row['hz']:g}", number(row["train_mse"]), number(row["test_mse"]), number(row["correlation"], 4))
        for i, row in enumerate(results["per_frequency"], 1)
    ]
    ablation_rows = [
        ("LSTM with S replaced by zeros", number(a["s_zero_mse"])),
        ("LSTM with S shuffled in time", number(a["s_shuffled_mse"])),
    ]
    noisy = results.get("noisy_input")
    if noisy:  # the noise-augmentation check, when the run measured it
        ablation_rows.append((f"LSTM with white noise on S at {noisy['snr_db']:g} dB SNR", number(noisy["test_mse"])))
    bandpass_rows = [
        (f"{row['hz']:g}", number(row["test_mse"]), number(row.get("gain"), 4), number(row.get("quadrature"), 4))
        for row in b["bandpass_per_frequency"]
    ]
    training_rows = [
        ("status", number(summary["status"])),
        ("stop reason", number(summary["stop_reason"])),
        ("epochs run", number(summary["epochs_run"])),
        ("best epoch", number(summary["best_epoch"])),
        ("best validation loss", number(summary["best_val_loss"])),
        ("training time (s)", number(summary["train_time_s"], 1)),
    ]
    drift_rows = [(f"{row['hz']:g}", number(row["output_hz"], 4), number(row["drift_deg_per_s"], 2),
                   "never" if row["limit_reached_s"] is None else number(row["limit_reached_s"], 2),
                   f"{100 * row['defined']:.0f}%") for row in drift.summary]
    changed, every = settings_rows(config)
    changed_block = ((("setting", "value", "default"), changed) if changed
                     else "Every setting is the default.")
    return [
        ("Verdict", [f"**Verdict ({v['code']}):** {v['text']}"]),
        ("Test MSE against the baselines", [
            (("predictor", "test MSE", "target power explained"), headline),
            f"Training MSE {number(results['train_mse'])}; test/train ratio {number(results['ratio'], 3)} "
            f"({results['ratio_verdict']})."]),
        ("Per-frequency performance", [
            "Correlation is Pearson's r between output and target on the test set.",
            (("#", "Hz", "train MSE", "test MSE", "correlation"), per_frequency)]),
        ("All frequencies", [("figure", "graph2_all_frequencies.png")]),
        ("Other figures", [("figure", name) for name in FIGURE_NAMES if name not in OWN_SECTION_FIGURES]),
        ("Phase and frequency drift", [
            "The phase of the LSTM output against each target over time, from the analytic signal: a model that "
            f"times the waveform from the reset drifts. Samples where the output's envelope is below "
            f"{100 * VALID_ENVELOPE:.0f}% of the target's have no phase and are left out.",
            (("Hz", "output frequency (median, Hz)", "drift (°/s)", f"|phase error| ≥ {DRIFT_LIMIT_DEG:g}° from t (s)",
              "samples with a phase"), drift_rows),
            ("figure", "phase_drift.png")]),
        ("Input ablation and band-pass reference", [
            "Test-set MSE of the model with its input S taken away (what the verdict is measured from):",
            (("predictor", "test MSE"), ablation_rows),
            "Band-pass reference per frequency (gain and quadrature coefficients fitted by least squares):",
            (("Hz", "test MSE", "gain", "quadrature"), bandpass_rows)]),
        ("Training summary", [(("item", "value"), training_rows)]),
        ("Environment", [(("component", "version / device"), environment(results))]),
        ("Configuration", [
            "Settings that differ from the defaults:" if changed else "",
            changed_block,
            ("details", f"All {len(every)} settings", ("setting", "value"), every)]),
    ]


def section_id(heading: str) -> str:
    """The HTML id of a section: its heading in lower case, words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def to_markdown(title: str, parts: list[tuple[str, list]], captions: Mapping[str, str] = FIGURE_CAPTIONS) -> str:
    out = [f"# {title}", ""]
    for heading, blocks in parts:
        out += [f"## {heading}", ""]
        for block in blocks:
            if isinstance(block, str):
                if not block:
                    continue
                out.append(block)
            elif block[0] == "figure":
                out.append(f"![{captions[block[1]]}]({block[1]})")
                out.append(f"*{captions[block[1]]}*")
            elif block[0] == "details":  # GitHub and most viewers fold <details> in Markdown too
                out += [f"<details><summary>{html.escape(block[1])}</summary>", "", _md_table(*block[2:]), "",
                        "</details>"]
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
figcaption{color:#555;font-style:italic}#verdict p{font-size:1.15em;border-left:4px solid #888;padding-left:.6em}
details summary{cursor:pointer;color:#444;margin:.5em 0}
@media print{body{max-width:none;margin:0;padding:0;font-size:10pt;color:#000}
h2{break-after:avoid}table,figure,tr{break-inside:avoid}img{border:0;max-height:45vh}
th{background:none}details summary{display:none}}"""
# Folded tables print unfolded: every browser prints a closed <details> closed.
PRINT_SCRIPT = "addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>d.open=true));"


def to_html(title: str, parts: list[tuple[str, list]], pngs: dict[str, bytes],
            captions: Mapping[str, str] = FIGURE_CAPTIONS) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{STYLE}</style><script>{PRINT_SCRIPT}</script></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    for heading, blocks in parts:
        out.append(f'<section id="{section_id(heading)}"><h2>{html.escape(heading)}</h2>')
        for block in blocks:
            if isinstance(block, str):
                if block:
                    out.append(_html_text(block))
            elif block[0] == "figure":
                data = base64.b64encode(pngs[block[1]]).decode("ascii")
                caption = html.escape(f"{block[1]}: {captions[block[1]]}")
                out.append(f'<figure><img alt="{html.escape(block[1])}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{caption}</figcaption></figure>")
            elif block[0] == "details":
                out.append(f"<details><summary>{html.escape(block[1])}</summary>{_html_table(*block[2:])}</details>")
            else:
                out.append(_html_table(*block))
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---- export -----------------------------------------------------------------------
def export_report(run_dir: RunDir | str | Path, results: Optional[dict[str, Any]] = None,
                  title: Optional[str] = None) -> list[Path]:
    """Write report.md, report.html and the PNG figures into the run directory
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

    drift = phase_drift(test.t, test.targets, output, test.frequencies, test.fs)
    pngs = render_all(test, output, run_dir.read_metrics(), drift)
    title = title or f"freq-lstm report: {run_dir.path.name}"
    parts = sections(config, results, summary, drift)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    dict(parts)["Environment"].insert(0, f"Generated {stamp} from `{run_dir.path}`.")
    markdown, page = to_markdown(title, parts), to_html(title, parts, pngs)

    paths = []
    for name, data in pngs.items():
        atomic_write_bytes(run_dir.file(name), data)
        paths.append(run_dir.file(name))
    atomic_write_text(run_dir.file(REPORT_MD), markdown)
    atomic_write_text(run_dir.file(REPORT_HTML), page)
    return [run_dir.file(REPORT_MD), run_dir.file(REPORT_HTML), *paths]


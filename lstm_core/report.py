"""The report of a run: report.md and a single-file report.html (figures
embedded as base64, so it opens offline), plus the PNG figures, all in the
run directory.

Everything is computed and rendered in memory first and only then written,
each file atomically: a failed evaluation or render leaves whatever the run
directory held before untouched.
"""
from __future__ import annotations

import base64
import html
import platform
import re
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import matplotlib

from .checkpoint import library_versions
from .config import RunConfig
from .evaluation import Evaluation, RunEvaluation
from .figures import NAMES as FIGURE_NAMES
from .figures import render_all
from .drift import DRIFT_LIMIT_DEG, VALID_ENVELOPE, Drift
from .events import EpochRecord
from .files import atomic_write_bytes, atomic_write_text
from . import tables
from .formatting import mse, number, seconds
from .results import Scores, TrainingFacts
from .rundir import RunDir
from .sysmon import summary_rows

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
OWN_SECTION_FIGURES = ("graph2_all_frequencies.png", "phase_drift.png")  # shown in their own sections

FIGURE_CAPTIONS = {
    "graph1_single_frequency.png": "f2 on the test set: target, LSTM output and the mixed signal S.",
    "graph2_all_frequencies.png": "Every frequency on the test set.",
    "training_curves.png": "Training and validation loss, and the learning rate, per epoch.",
    "fft_analysis.png": "Amplitude spectra of S, the target and the LSTM output on the test set.",
    "error_distribution.png": "Error histogram, prediction vs target, and RMS error over time (test set).",
    "phase_drift.png": "Phase error of the LSTM output against each target over time, and the output's "
                       "instantaneous frequency (test set, analytic signal).",
}


# ---- report content -----------------------------------------------------------
def environment(training: TrainingFacts, scores: Scores) -> list[tuple[str, str]]:
    rows = list((training.versions or library_versions()).items())
    rows += [("matplotlib", matplotlib.__version__), ("python", platform.python_version()),
             ("platform", platform.platform())]
    if training.device:
        rows.append(("training device", training.device))
    if training.precision:
        rows.append(("training precision", f"{training.precision} (evaluation: fp32)"))
    if scores.evaluated_on:
        rows.append(("evaluation device", scores.evaluated_on))
    return rows


def settings_rows(config: RunConfig) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(settings that differ from the defaults with their defaults, every setting)."""
    values, defaults = config.to_dict(), RunConfig().to_dict()
    changed = [(name, str(value), str(defaults[name])) for name, value in values.items() if value != defaults[name]]
    return changed, [(name, str(value)) for name, value in values.items()]


def sections(config: RunConfig, scores: Scores, training: TrainingFacts, drift: Drift) -> list[tuple[str, list]]:
    """The report as (title, blocks), headline first; a block is a paragraph
    (str), a table (header tuple, rows), ("figure", name) or ("details",
    summary, header, rows), a table folded away. Rendered to Markdown and
    HTML alike."""
    v = scores.verdict
    training_rows = [
        ("status", number(training.status)),
        ("stop reason", number(training.stop_reason)),
        ("epochs run", number(training.epochs_run)),
        ("best epoch", number(training.best_epoch)),
        ("best validation loss", mse(training.best_val_loss)),
        ("training time (s)", seconds(training.train_time_s)),
    ]
    drift_rows = [(f"{row.hz:g}", number(row.output_hz, 4), number(row.drift_deg_per_s, 2),
                   "never" if row.limit_reached_s is None else number(row.limit_reached_s, 2),
                   f"{100 * row.defined:.0f}%") for row in drift.summary]
    changed, every = settings_rows(config)
    changed_block = ((("setting", "value", "default"), changed) if changed
                     else "Every setting is the default.")
    return [
        ("Verdict", [f"**Verdict ({v.code}):** {v.text}"]),
        ("Test MSE against the baselines", [
            _block(tables.baselines(scores, skill=True)),
            f"Training MSE {mse(scores.train_mse)}; test/train ratio {scores.ratio_text()}."]),
        ("Per-frequency performance", [
            "Correlation is Pearson's r between output and target on the test set.",
            _block(tables.per_frequency(scores))]),
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
            _block(tables.ablation(scores)),
            "Band-pass reference per frequency (gain and quadrature coefficients fitted by least squares):",
            _block(tables.bandpass(scores))]),
        ("Training summary", [(("item", "value"), training_rows)]),
        *([("Machine while training", system_blocks(training.system))] if summary_rows(training.system) else []),
        ("Environment", [(("component", "version / device"), environment(training, scores))]),
        ("Configuration", [
            "Settings that differ from the defaults:" if changed else "",
            changed_block,
            ("details", f"All {len(every)} settings", ("setting", "value"), every)]),
    ]


def system_blocks(summary: Mapping[str, Any]) -> list:
    """The "Machine while training" section: what the epochs' records say about the machine."""
    how = "CPU load: the mean over each epoch"
    if summary.get("gpu_util_percent_mean") is not None:
        how += "; GPU utilisation: the mean of NVML's samples in each epoch, or its latest figure where it keeps none"
    return [f"Sampled at the end of each of {summary.get('epochs_sampled', 0)} epochs ({how}).",
            (("item", "value"), summary_rows(summary))]


def _block(table: tables.TextTable) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    return table.header, table.rows


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
def export_report(run_dir: RunDir, evaluation: Evaluation, training: TrainingFacts, history: Sequence[EpochRecord],
                  title: Optional[str] = None) -> list[Path]:
    """Write report.md, report.html and the PNG figures of `evaluation` into
    the run directory and return their paths. `history`: the run's epochs
    (the training curves)."""
    pngs = render_all(evaluation, history)
    title = title or f"freq-lstm report: {run_dir.path.name}"
    parts = sections(evaluation.config, evaluation.scores, training, evaluation.drift)
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


def export_run(run: RunEvaluation) -> list[Path]:
    """The report of a run evaluated again (`freq-tui report`, the app's Export)."""
    return export_report(run.run_dir, run.evaluation, run.results.training, run.run_dir.read_metrics())


def report_run(path: str | Path | RunDir, role: str = "report") -> tuple[RunEvaluation, list[Path]]:
    """Evaluate the run's best.pt again and rewrite its report and
    results.json (`freq-tui report`, the app's Export), holding the run's
    lock from the first read to the last write: refused while the run
    trains or another report is written, so what is written matches the
    status beside it. Everything is computed before the first file is
    written."""
    from .evaluation import evaluate_run

    run_dir = path if isinstance(path, RunDir) else RunDir.open(path)
    with run_dir.writing(role):
        run = evaluate_run(run_dir)
        paths = export_run(run)
        run_dir.write_results(run.results)
    return run, paths

"""Runs side by side: `freq-tui compare RUN RUN [RUN...] --out DIR` and the
app's Compare screen read the same tables from here.

A comparison is read from the run directories' files only (config.toml,
results.json, metrics.jsonl): nothing is evaluated again. Runs trained on
different frequency lists are refused (their per-frequency numbers do not
line up). compare.md, a single-file compare.html and the PNGs are rendered in
memory and written only once every run has been read and every figure drawn.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .config import FIELDS, RunConfig
from .errors import UserError
from .events import EpochRecord
from .formatting import mse, number, ratio, seconds
from .results import Results
from .rundir import RunDir
from .verdict import ratio_label

COMPARE_MD = "compare.md"
COMPARE_HTML = "compare.html"
LOSS_PNG = "compare_loss.png"
PER_FREQUENCY_PNG = "compare_per_frequency.png"
CAPTIONS = {
    LOSS_PNG: "Validation (solid) and training (dashed) loss per epoch, log scale, one colour per run.",
    PER_FREQUENCY_PNG: "Test MSE per frequency, one bar per run, log scale; dotted: the zero predictor.",
}
IGNORED_SETTINGS = ("run_dir",)  # always differs; the run's name says which directory it is


@dataclass
class ComparedRun:
    label: str  # the directory name, or the whole path where two names clash
    path: Path
    config: RunConfig
    results: Results
    history: list[EpochRecord]


def load_runs(paths: Sequence[str | Path]) -> list[ComparedRun]:
    """Read every run, refusing (UserError, one line) fewer than two runs, a
    run without results.json, and runs of different frequency lists."""
    if len(paths) < 2:
        raise UserError("compare", "needs at least two runs")
    runs = []
    for path in paths:
        run_dir = RunDir.open(path)
        config = run_dir.read_config()
        results = run_dir.read_results()
        if results is None:
            raise UserError(str(run_dir.path), "has no results.json (still training, or no epoch finished)")
        runs.append(ComparedRun(run_dir.path.name, run_dir.path, config, results, run_dir.read_metrics()))
    first = runs[0]
    for run in runs[1:]:
        if run.config.frequencies != first.config.frequencies:
            raise UserError(str(run.path), f"was trained on frequencies {_hz(run.config.frequencies)} but "
                                           f"{first.path} on {_hz(first.config.frequencies)}: only runs of the "
                                           f"same frequencies compare")
    names = [run.label for run in runs]
    if len(set(names)) < len(names):
        for run in runs:
            run.label = str(run.path)
    return runs


def _hz(frequencies: Sequence[float]) -> str:
    return ",".join(f"{hz:g}" for hz in frequencies)




def differing_settings(runs: Sequence[ComparedRun]) -> list[tuple[str, ...]]:
    """(setting, value in each run) for every setting that is not the same in all."""
    rows = []
    for name in FIELDS:
        if name in IGNORED_SETTINGS:
            continue
        values = [str(getattr(run.config, name)) for run in runs]
        if len(set(values)) > 1:
            rows.append((name, *values))
    return rows


def metrics_rows(runs: Sequence[ComparedRun]) -> list[tuple[str, ...]]:
    """(metric, value in each run): the verdict, test MSE against the
    baselines, the ablation, training facts."""
    scores = [run.results.scores for run in runs]
    training = [run.results.training for run in runs]
    rows = [("verdict", *(s.verdict.code for s in scores))]
    # the same tables as the report's, one column per run
    for k, (_, short, _) in enumerate(scores[0].baseline_rows()):
        rows.append((short, *(mse(s.baseline_rows()[k][2]) for s in scores)))
    for k, (_, short, _) in enumerate(scores[0].ablation_rows()[:2]):  # zeroed and shuffled: in every run
        rows.append((short, *(mse(s.ablation_rows()[k][2]) for s in scores)))
    return rows + [
        ("train MSE", *(mse(s.train_mse) for s in scores)),
        ("test/train ratio", *(f"{ratio(s.ratio)} ({ratio_label(s.ratio, s.verdict.code, s.targets_identical, short=True)})"
                               for s in scores)),
        ("best validation loss", *(mse(t.best_val_loss) for t in training)),
        ("epochs run (best)", *(f"{number(t.epochs_run)} ({number(t.best_epoch)})" for t in training)),
        ("training time (s)", *(seconds(t.train_time_s) for t in training)),
    ]


def per_frequency_mse(run: ComparedRun) -> list[float]:
    return [row.test_mse for row in run.results.scores.per_frequency]


def per_frequency_rows(runs: Sequence[ComparedRun]) -> list[tuple[str, ...]]:
    columns = [per_frequency_mse(run) for run in runs]
    return [(f"{hz:g}", *(mse(col[k]) if k < len(col) else "n/a" for col in columns))
            for k, hz in enumerate(runs[0].config.frequencies)]


def sections(runs: Sequence[ComparedRun]) -> list[tuple[str, list]]:
    """The comparison as report.py's (title, blocks), verdicts first."""
    header = ("", *(run.label for run in runs))
    verdicts = [f"**{run.label} ({run.results.scores.verdict.code}):** {run.results.scores.verdict.text}"
                for run in runs]
    differ = differing_settings(runs)
    return [
        ("Runs", [(("metric", *header[1:]), metrics_rows(runs)), *verdicts]),
        ("Loss curves", [("figure", LOSS_PNG)]),
        ("Per-frequency test MSE", [(("Hz", *header[1:]), per_frequency_rows(runs)), ("figure", PER_FREQUENCY_PNG)]),
        ("Settings that differ", [(("setting", *header[1:]), differ) if differ
                                  else "Every setting is the same in these runs."]),
    ]


def render_pngs(runs: Sequence[ComparedRun]) -> dict[str, bytes]:
    from .figures import compare_losses, compare_per_frequency, to_png  # matplotlib: only when drawing

    losses = compare_losses({run.label: run.history for run in runs})
    per_frequency = compare_per_frequency(runs[0].config.frequencies,
                                          {run.label: per_frequency_mse(run) for run in runs},
                                          [run.results.scores.baselines.zero_mse for run in runs])
    return {LOSS_PNG: to_png(losses), PER_FREQUENCY_PNG: to_png(per_frequency)}


def write_comparison(runs: Sequence[ComparedRun], out: str | Path, title: Optional[str] = None) -> list[Path]:
    """compare.md, compare.html and the PNGs into `out` (made if missing)."""
    from .files import atomic_write_bytes, atomic_write_text, check_real_folder, ensure_folder
    from .report import to_html, to_markdown

    out = Path(out)
    if out.exists() or out.is_symlink():
        check_real_folder(out)  # before anything is drawn
    title = title or "freq-lstm comparison: " + " vs ".join(run.label for run in runs)
    parts = sections(runs)
    pngs = render_pngs(runs)
    markdown, page = to_markdown(title, parts, CAPTIONS), to_html(title, parts, pngs, CAPTIONS)
    ensure_folder(out)
    for name, data in pngs.items():
        atomic_write_bytes(out / name, data)
    atomic_write_text(out / COMPARE_MD, markdown)
    atomic_write_text(out / COMPARE_HTML, page)
    return [out / COMPARE_MD, out / COMPARE_HTML, *(out / name for name in pngs)]

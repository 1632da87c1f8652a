"""Noise sweep: train both models over phase-noise ranges from 0 to 2 pi and
measure each against the band-pass reference and the zero predictor.

    freq-tui sweep --out sweep            # table (CSV + markdown) and PNG

Every point trains from scratch on its own data (train/val/test seeds of the
base config, phase drawn from U(0, fraction * 2 pi)); nothing is shared
between points except the settings.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .config import TWO_PI, RunConfig, build_config, load_preset
from .data import splits_for
from .evaluation import evaluate
from .files import atomic_write, atomic_write_text, ensure_folder
from .formatting import mse
from .events import EventCallback
from .parallel import JobReport, progress_events, run_parallel, spread_devices
from .status import RunStatus
from .stopping import StopFlag
from .trainer import Trainer

DEFAULT_FRACTIONS = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 1.0)  # of 2 pi; 0.01 is `informative`, 1 is `literal`
DEFAULT_PRESETS = {"stateful": "informative-stateful", "sequence": "informative-sequence"}
@dataclass(frozen=True)
class SweepRow:
    """One measured point: a row of sweep.csv (its columns are these fields)."""
    phase_fraction: float
    phase_high: float
    model: str
    test_mse: float
    train_mse: float
    bandpass_mse: float  # non-causal, fitted on the training set: how much S tells about the targets
    zero_mse: float
    epochs_run: int
    train_time_s: float


COLUMNS = tuple(f.name for f in dataclasses.fields(SweepRow))


@dataclass
class SweepPoint:
    phase_fraction: float
    model: str
    config: RunConfig


def sweep_configs(base: dict[str, dict[str, Any]], fractions: Sequence[float],
                  overrides: Optional[dict[str, Any]] = None) -> list[SweepPoint]:
    """One config per (phase range, model): the model's base settings with
    custom noise U(0, fraction * 2 pi) and the overrides on top."""
    points = []
    for fraction in fractions:
        for model, settings in base.items():
            layer = {**settings, "model": model, "noise": "custom",
                     "phase_low": 0.0, "phase_high": fraction * TWO_PI, **(overrides or {})}
            points.append(SweepPoint(float(fraction), model, build_config(layer)))
    return points


def run_point(point: SweepPoint, stop: Optional[StopFlag] = None,
              on_event: Optional[EventCallback] = None) -> SweepRow:
    config = point.config
    splits = splits_for(config)
    trainer = Trainer(config, None, on_event=on_event, stop=stop, splits=splits)
    result = trainer.fit()
    scores = evaluate(trainer.model, config, splits, trainer.device).scores
    return SweepRow(point.phase_fraction, config.phase_high, point.model, scores.test_mse, scores.train_mse,
                    scores.baselines.bandpass_mse, scores.baselines.zero_mse, result.epochs_run, result.train_time_s)


def point_label(point: SweepPoint) -> str:
    return f"U(0, {point.phase_fraction:g}*2pi) {point.model}"


def sweep_job(point: SweepPoint, emit: Callable[[dict], None], stop: StopFlag) -> tuple[str, str, Any]:
    """One point in its own process (parallel.py); no row when it was stopped."""
    row = run_point(point, stop, progress_events(emit))
    if stop.is_set():
        return stop.reason, f"{stop.reason}: no row for this point", None
    return RunStatus.FINISHED, "", row


def run_sweep(points: Sequence[SweepPoint], out_dir: str | Path,
              on_row: Callable[[SweepRow], None] = lambda row: None, jobs: int = 1,
              should_stop: Callable[[], bool] = lambda: False,
              on_update: Callable[[int, Any], None] = lambda index, update: None,
              on_done: Callable[[JobReport], None] = lambda report: None) -> list[SweepRow]:
    """Train and measure every point, `jobs` at once in processes of their
    own when jobs > 1; the table (in the points' order) is rewritten after
    each one, so an interrupted sweep keeps what it measured."""
    out_dir = ensure_folder(Path(out_dir), "sweep folder")
    rows: list[SweepRow] = []
    if jobs > 1:
        found: dict[int, SweepRow] = {}

        def done(report: JobReport) -> None:
            if report.value is not None:
                found[report.index] = report.value
                on_row(report.value)
                write_tables([found[i] for i in sorted(found)], out_dir)
            on_done(report)

        placed = [SweepPoint(p.phase_fraction, p.model, c) for p, c in zip(points, spread_devices([p.config for p in points]))]
        run_parallel(sweep_job, placed, [point_label(p) for p in points], jobs, should_stop, on_update, done)
        rows = [found[i] for i in sorted(found)]
    else:
        for point in points:
            rows.append(run_point(point))
            on_row(rows[-1])
            write_tables(rows, out_dir)
    if rows:
        write_plot(rows, out_dir / "sweep.png")
    return rows


def write_tables(rows: list[SweepRow], out_dir: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(dataclasses.asdict(row) for row in rows)
    atomic_write_text(out_dir / "sweep.csv", buffer.getvalue())
    atomic_write_text(out_dir / "sweep.md", markdown_table(rows))


def markdown_table(rows: list[SweepRow]) -> str:
    """Phase range | stateful | sequence | band-pass | zero predictor (test MSE)."""
    models = list(dict.fromkeys(row.model for row in rows))
    fractions = list(dict.fromkeys(row.phase_fraction for row in rows))
    header = ["phase range"] + [f"{m} test MSE" for m in models] + ["band-pass reference", "zero predictor"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for fraction in fractions:
        at = {row.model: row for row in rows if row.phase_fraction == fraction}
        any_row = next(iter(at.values()))
        cells = [f"U(0, {fraction:g}·2π)"]
        cells += [mse(at[m].test_mse) if m in at else "" for m in models]
        cells += [mse(any_row.bandpass_mse), mse(any_row.zero_mse)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_plot(rows: list[SweepRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    models = list(dict.fromkeys(row.model for row in rows))
    for i, (model, marker) in enumerate(zip(models, "os^v")):
        sub = sorted((r for r in rows if r.model == model), key=lambda r: r.phase_fraction)
        # hollow and shrinking markers: models that reach the same numbers stay visible on top of each other
        ax.plot([r.phase_fraction for r in sub], [r.test_mse for r in sub], marker=marker, markersize=11 - 3 * i,
                markerfacecolor="none", markeredgewidth=1.5, label=f"{model} LSTM")
    ref = sorted({r.phase_fraction: r for r in rows}.values(), key=lambda r: r.phase_fraction)
    ax.plot([r.phase_fraction for r in ref], [r.bandpass_mse for r in ref], "k--", label="band-pass reference (non-causal)")
    ax.plot([r.phase_fraction for r in ref], [r.zero_mse for r in ref], ":", color="gray", label="zero predictor")
    ax.set_yscale("log")
    ax.set_xlabel("phase noise range: phi ~ U(0, x · 2π)")
    ax.set_ylabel("test MSE")
    ax.set_title("Test MSE against phase-noise range")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def base_settings(presets: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each model's settings from its named preset (noise is set per point)."""
    base = {}
    for model, name in presets.items():
        settings = load_preset(name)
        settings.pop("noise", None)
        base[model] = settings
    return base

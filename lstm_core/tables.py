"""The tables of an evaluation, built once: the console, the report, the app's
Evaluate screen and compare all show these rows (each renders them its own
way: rich, Markdown and HTML, a DataTable). Pure Python."""
from __future__ import annotations

from dataclasses import dataclass

from .formatting import correlation, mse, number
from .results import Scores


PER_FREQUENCY = ("#", "Hz", "train MSE", "test MSE", "correlation")
PER_FREQUENCY_SHORT = ("f", "Hz", "train MSE", "test MSE", "corr")  # an 80-column screen
PREDICTORS = ("predictor", "test MSE")


@dataclass(frozen=True)
class TextTable:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


def per_frequency(scores: Scores, short: bool = False) -> TextTable:
    """Train and test MSE and the test set's correlation, one row per frequency
    (`short`: the column names of an 80-column screen)."""
    rows = [(str(k), f"{row.hz:g}", mse(row.train_mse), mse(row.test_mse), correlation(row.correlation))
            for k, row in enumerate(scores.per_frequency, 1)]
    return TextTable(PER_FREQUENCY_SHORT if short else PER_FREQUENCY, rows)


def baselines(scores: Scores, short: bool = False, skill: bool = False) -> TextTable:
    """The model's test MSE next to the zero predictor and the band-pass
    reference (`skill`: with the share of the target power each explains)."""
    header = (*PREDICTORS, *(("target power explained",) if skill else ()))
    return TextTable(header, [(short_label if short else label, mse(value), *((scores.skill_of(value),) if skill else ()))
                              for label, short_label, value in scores.baseline_rows()])


def ablation(scores: Scores, short: bool = False) -> TextTable:
    """The model's test MSE with S zeroed, shuffled and noisier."""
    return TextTable(PREDICTORS, [(short_label if short else label, mse(value))
                                  for label, short_label, value in scores.ablation_rows()])


def bandpass(scores: Scores) -> TextTable:
    """The band-pass reference per frequency, with its fitted coefficients."""
    return TextTable(("Hz", "test MSE", "gain", "quadrature"),
                     [(f"{row.hz:g}", mse(row.test_mse), number(row.gain, 4), number(row.quadrature, 4))
                      for row in scores.baselines.bandpass_per_frequency])

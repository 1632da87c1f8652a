"""One number format per kind of figure, and one builder per table: the
console, the report, the app and compare show the same rows."""
from __future__ import annotations

import math

from conftest import synthetic_scores
from lstm_core import tables
from lstm_core.formatting import correlation, mse
from lstm_core.verdict import verdict


def test_an_mse_keeps_four_significant_digits_and_small_values_show():
    assert mse(0.501437) == "0.5014"
    assert mse(0.00133) == "0.001330"
    assert mse(0.000048) == "4.800e-05"
    assert mse(None) == mse(math.nan) == "n/a"
    assert correlation(0.987654) == "0.9877"


def test_the_verdict_never_rounds_a_small_mse_to_zero():
    text = verdict(0.0021, 0.5, 0.52, 0.0022, bandpass_mse=0.000048).text
    assert "4.800e-05" in text and "0.0000" not in text


def test_the_tables_are_built_from_the_scores():
    scores = synthetic_scores(per_frequency=[0.0064, 0.000048, 0.01, 0.2])
    per_frequency = tables.per_frequency(scores)
    assert per_frequency.header == tables.PER_FREQUENCY
    assert [row[3] for row in per_frequency.rows] == [mse(f.test_mse) for f in scores.per_frequency]
    assert [row[4] for row in per_frequency.rows] == [correlation(f.correlation) for f in scores.per_frequency]
    assert tables.per_frequency(scores, short=True).rows == per_frequency.rows
    baselines = tables.baselines(scores, skill=True)
    assert [row[1] for row in baselines.rows] == [mse(v) for _, _, v in scores.baseline_rows()]
    assert len(baselines.header) == 3 and all(row[2].endswith("%") or row[2] == "n/a" for row in baselines.rows)
    assert [row[0] for row in tables.ablation(scores, short=True).rows] == [s for _, s, _ in scores.ablation_rows()]

"""A plain-language verdict on what the model learned, computed only from
measured numbers (never from the configuration or from expectations).

Everything is measured in units of the zero predictor's MSE (the target
power), so the same thresholds hold for any amplitude or frequency set:

- skill = 1 - test_mse / zero_mse: the share of the target power the model
  explains. Below LEARNED_NOTHING_SKILL (10%) the model is, for practical
  purposes, the zero predictor: "learned_nothing".
- shuffle_cost = (s_shuffled_mse - test_mse) / zero_mse: what the model loses
  when S is shuffled in time. Shuffling keeps every value of S (the model
  stays on inputs like those it was trained on) but destroys any timing
  information in it, so it is the decisive test. If it costs at least
  USES_SIGNAL_COST (10% of the target power) the model "uses_signal";
  otherwise it "ignores_signal" and gets its skill from timing the waveform
  from the state reset at t = 0 (train and test share their targets).
- S replaced by zeros is reported too, but only as context: zeros are unlike
  any training input, so they can hurt a model that takes no information
  from S.

The test/train MSE ratio is labelled here too (`ratio_label`), from what the
evaluation measured: a ratio near 1 is "generalisation" only when the test
targets differ from the training targets and the model uses S; with
identical targets it cannot show generalisation at all.
"""
from __future__ import annotations

import math
from typing import Optional

from .formatting import mse
from .results import Verdict

LEARNED_NOTHING_SKILL = 0.10
USES_SIGNAL_COST = 0.10
INFORMATIVE_REFERENCE_SKILL = 0.50  # band-pass reference explains half the target power
# The guide's bands for test MSE / train MSE, meaningful only for a model that
# uses S, measured on test targets that differ from the training targets.
RATIO_BANDS = ((1.2, "excellent generalisation"), (1.5, "good generalisation"),
               (2.0, "some overfitting"), (math.inf, "significant overfitting"))
WHAT_IT_DID = {"learned_nothing": "learned nothing", "ignores_signal": "ignores S"}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def verdict(test_mse: float, zero_mse: float, s_zero_mse: float, s_shuffled_mse: float,
            bandpass_mse: Optional[float] = None) -> Verdict:
    if not (zero_mse > 0 and all(map(math.isfinite, (test_mse, s_zero_mse, s_shuffled_mse)))):
        return Verdict("learned_nothing", "No verdict could be measured (non-finite MSE or all-zero targets); "
                                          "treat the model as having learned nothing.", math.nan, math.nan, math.nan)
    skill = 1.0 - test_mse / zero_mse
    shuffle_cost = (s_shuffled_mse - test_mse) / zero_mse
    zero_cost = (s_zero_mse - test_mse) / zero_mse

    if skill < LEARNED_NOTHING_SKILL:
        code = "learned_nothing"
        if test_mse > zero_mse:
            text = (f"The model learned nothing useful for this data: its test MSE {mse(test_mse)} is no better "
                    f"than predicting zero everywhere ({mse(zero_mse)}).")
        else:
            text = (f"The model learned nothing useful for this data: its test MSE {mse(test_mse)} is close to the zero "
                    f"predictor's {mse(zero_mse)} (it explains only {_pct(skill)} of the target power).")
    elif shuffle_cost >= USES_SIGNAL_COST:
        code = "uses_signal"
        text = (f"The model uses the signal: shuffling S in time raises its test MSE from {mse(test_mse)} to "
                f"{mse(s_shuffled_mse)} (+{_pct(shuffle_cost)} of the target power), and S replaced by zeros "
                f"gives {mse(s_zero_mse)}.")
    else:
        code = "ignores_signal"
        text = (f"The model ignores S: shuffling S in time changes its test MSE only from {mse(test_mse)} to "
                f"{mse(s_shuffled_mse)} ({shuffle_cost:+.1%} of the target power; S zeroed gives "
                f"{mse(s_zero_mse)}). Its skill ({_pct(skill)} of the target power) comes from timing each "
                f"waveform from the state reset at t = 0, which works only because train and test share the "
                f"same target sines.")
        if zero_cost >= USES_SIGNAL_COST:
            text += " Zeroing S does hurt it, so it depends on the level of S, not on what S says about time."

    if bandpass_mse is not None and math.isfinite(bandpass_mse):
        reference_skill = 1.0 - bandpass_mse / zero_mse
        if reference_skill >= INFORMATIVE_REFERENCE_SKILL:
            text += (f" S does hold the targets under this noise: the band-pass reference reaches MSE "
                     f"{mse(bandpass_mse)}.")
        else:
            text += (f" S holds little or no usable information under this noise: the band-pass reference "
                     f"reaches only {mse(bandpass_mse)} against {mse(zero_mse)} for predicting zero.")
    return Verdict(code, text, skill, shuffle_cost, zero_cost)


def ratio_label(ratio: float, verdict_code: str, targets_identical: bool, short: bool = False) -> str:
    """What the test/train ratio can say, given what the evaluation measured.
    `short`: the same in a few words, for a table cell."""
    if targets_identical:
        return ("same targets: no generalisation test" if short else
                "cannot show generalisation: train and test share identical targets; see the verdict")
    if not math.isfinite(ratio):
        return "undefined (train MSE is zero)"
    if verdict_code in WHAT_IT_DID:
        return f"not generalisation: the model {WHAT_IT_DID[verdict_code]}" + ("" if short else " (see the verdict)")
    return "test below train" if ratio < 1.0 else next(label for bound, label in RATIO_BANDS if ratio < bound)

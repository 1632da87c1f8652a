"""Baselines, input ablation and the verdict: each checked against a case
whose answer is known in advance."""
import json
import math
import re

import numpy as np
import pytest
import torch

from lstm_core.ablation import ablation, shuffled, zeroed
from lstm_core.baselines import band_pass, bandpass_reference, half_width_hz, zero_mse
from lstm_core.data import generate, splits_for
from lstm_core.errors import UserError
from lstm_core.evaluation import evaluate, predict_signal
from lstm_core.models import build_model
from lstm_core.verdict import LEARNED_NOTHING_SKILL, USES_SIGNAL_COST, ratio_label, verdict

CPU = torch.device("cpu")
FREQS = [1.0, 3.0, 5.0, 7.0]


def pair(amplitude=(1.0, 1.0), phase=(0.0, 0.0), duration=10.0, fs=200.0, freqs=FREQS):
    make = lambda seed: generate(freqs, fs=fs, duration=duration, amplitude_range=amplitude,
                                 phase_range=phase, seed=seed)
    return make(1), make(2)


# ---- zero predictor -----------------------------------------------------------
@pytest.mark.parametrize("duration", [10.0, 0.37])  # whole periods, and not
def test_zero_predictor_mse_is_the_mean_squared_target(duration):
    _, test = pair(duration=duration, freqs=[1.3, 4.0])
    assert zero_mse(test.targets) == pytest.approx(float(np.mean(test.targets ** 2)), rel=1e-12)
    if duration == 10.0:
        assert zero_mse(test.targets) == pytest.approx(0.5, abs=1e-9)  # unit sines, whole periods


# ---- band-pass reference ------------------------------------------------------------
def test_bandpass_recovers_a_clean_sine_at_zero_noise():
    train, test = pair(amplitude=(1.0, 1.0), phase=(0.0, 0.0))
    reference, _ = bandpass_reference(train, test)
    assert reference.bandpass_mse < 1e-12
    for row in reference.bandpass_per_frequency:
        assert row.gain == pytest.approx(len(FREQS), rel=1e-6)  # S averages K components
        assert abs(row.quadrature) < 1e-6


def test_bandpass_fits_a_constant_phase_shift_with_its_quadrature_term():
    train, test = pair(phase=(1.0, 1.0))  # every component shifted by 1 rad
    reference, _ = bandpass_reference(train, test)
    assert reference.bandpass_mse < 1e-12
    assert all(abs(row.quadrature) > 1.0 for row in reference.bandpass_per_frequency)


def test_bandpass_is_near_perfect_under_small_phase_noise():
    train, test = pair(amplitude=(0.8, 1.2), phase=(0.0, 0.02 * math.pi))
    assert bandpass_reference(train, test)[0].bandpass_mse < 0.01


def test_bandpass_is_useless_under_the_literal_spec():
    train, test = pair(amplitude=(0.8, 1.2), phase=(0.0, 2 * math.pi))
    reference, _ = bandpass_reference(train, test)
    zero = zero_mse(test.targets)
    # No better than predicting zero (fitting noise can even make it slightly worse).
    assert 1 - reference.bandpass_mse / zero < LEARNED_NOTHING_SKILL
    assert reference.bandpass_mse == pytest.approx(0.5, abs=0.1)
    assert reference.zero_mse == zero


def test_band_pass_keeps_only_its_band_and_quadrature_is_90_degrees_late():
    t = np.arange(2000) / 200.0
    x = np.sin(2 * np.pi * 3 * t) + np.sin(2 * np.pi * 20 * t)
    in_phase, quadrature = band_pass(x, 200.0, 3.0, 0.5)
    np.testing.assert_allclose(in_phase, np.sin(2 * np.pi * 3 * t), atol=1e-9)
    np.testing.assert_allclose(quadrature, -np.cos(2 * np.pi * 3 * t), atol=1e-9)


def test_half_width_stays_between_neighbours_and_never_below_one_bin():
    assert half_width_hz(np.array(FREQS), 10.0) == 0.5
    assert half_width_hz(np.array([1.0, 1.5]), 10.0) == pytest.approx(0.225)
    assert half_width_hz(np.array([1.0, 3.0]), 0.5) == 2.0  # 1 / duration


# ---- ablation ---------------------------------------------------------------------
def s_blind_model(config, k):
    """A model whose input weights from S are zero: it cannot see S at all."""
    torch.manual_seed(0)
    model = build_model(config, k)
    with torch.no_grad():
        model.lstm.weight_ih_l0[:, 0] = 0.0
    return model


@pytest.mark.parametrize("model_type", ["stateful", "sequence"])
def test_ablation_changes_nothing_for_a_model_that_ignores_S(tiny_config, model_type):
    config = tiny_config(model=model_type, sequence_length=8, noise="literal")
    test = splits_for(config)["test"]
    model = s_blind_model(config, test.n_frequencies)
    baseline = float(np.mean((predict_signal(model, config, test, CPU) - test.targets) ** 2))
    measured = ablation(lambda signal: predict_signal(model, config, signal, CPU), test)
    assert measured.s_zero_mse == pytest.approx(baseline, abs=1e-9)
    assert measured.s_shuffled_mse == pytest.approx(baseline, abs=1e-9)


def test_ablation_does_change_a_model_that_reads_S(tiny_config):
    config = tiny_config()
    test = splits_for(config)["test"]
    torch.manual_seed(0)
    model = build_model(config, test.n_frequencies)
    with torch.no_grad():
        model.lstm.weight_ih_l0[:, 0] = 3.0  # S drives every gate
    baseline = float(np.mean((predict_signal(model, config, test, CPU) - test.targets) ** 2))
    measured = ablation(lambda signal: predict_signal(model, config, signal, CPU), test)
    assert measured.s_zero_mse != pytest.approx(baseline, abs=1e-6)
    assert measured.s_shuffled_mse != pytest.approx(baseline, abs=1e-6)


def test_shuffle_is_fixed_and_keeps_the_values(tiny_config):
    test = splits_for(tiny_config())["test"]
    a, b = shuffled(test), shuffled(test)
    np.testing.assert_array_equal(a.S, b.S)
    np.testing.assert_array_equal(np.sort(a.S), np.sort(test.S))
    assert not np.array_equal(a.S, test.S)
    assert not zeroed(test).S.any() and np.array_equal(zeroed(test).targets, test.targets)


# ---- verdict ------------------------------------------------------------------------
def test_verdict_uses_signal():
    v = verdict(test_mse=0.01, zero_mse=0.5, s_zero_mse=0.48, s_shuffled_mse=0.5, bandpass_mse=0.001)
    assert v.code == "uses_signal"
    assert "0.0100" in v.text and "0.5000" in v.text and "band-pass" in v.text


def test_verdict_ignores_signal():
    v = verdict(test_mse=0.05, zero_mse=0.5, s_zero_mse=0.051, s_shuffled_mse=0.052, bandpass_mse=0.55)
    assert v.code == "ignores_signal"
    assert "state reset" in v.text and "little or no usable information" in v.text


def test_verdict_learned_nothing():
    assert verdict(0.48, 0.5, 0.48, 0.48).code == "learned_nothing"
    worse = verdict(0.6, 0.5, 0.6, 0.9)
    assert worse.code == "learned_nothing" and "no better than predicting zero" in worse.text
    assert verdict(float("nan"), 0.5, 0.5, 0.5).code == "learned_nothing"


def test_verdict_thresholds_are_relative_to_the_target_power():
    # Same shapes at a quarter of the power give the same verdicts.
    just_uses = verdict(0.1, 0.5, 0.1, 0.1 + USES_SIGNAL_COST * 0.5 + 1e-9)
    assert just_uses.code == "uses_signal"
    scaled = verdict(0.025, 0.125, 0.025, 0.025 + USES_SIGNAL_COST * 0.125 + 1e-9)
    assert scaled.code == "uses_signal"
    assert verdict(0.1, 0.5, 0.1, 0.1 + USES_SIGNAL_COST * 0.5 - 1e-3).code == "ignores_signal"


# ---- the test/train ratio's label --------------------------------------------------------
VERDICT_CASES = {  # (test, zero, S zeroed, S shuffled) MSEs that give each verdict
    "uses_signal": (0.05, 0.5, 0.5, 0.5), "ignores_signal": (0.1, 0.5, 0.1, 0.1),
    "learned_nothing": (0.49, 0.5, 0.5, 0.5)}


@pytest.mark.parametrize("code", sorted(VERDICT_CASES))
@pytest.mark.parametrize("ratio", [0.99, 1.006, 1.1, 1.3, 3.0])
def test_ratio_with_identical_targets_never_claims_generalisation(code, ratio):
    assert verdict(*VERDICT_CASES[code]).code == code
    label = ratio_label(ratio, code, targets_identical=True)
    assert "cannot show generalisation" in label and "see the verdict" in label
    short = ratio_label(ratio, code, targets_identical=True, short=True)
    assert short == "same targets: no generalisation test"
    for text in (label, short):
        assert "excellent" not in text and "good" not in text and "overfitting" not in text


@pytest.mark.parametrize("code", ["learned_nothing", "ignores_signal"])
def test_ratio_of_a_model_that_learned_nothing_is_never_generalisation(code):
    for ratio in (0.9, 1.0, 1.05, 1.4, 1.9, 5.0):
        label = ratio_label(ratio, code, targets_identical=False)
        assert label.startswith("not generalisation") and "verdict" in label
        assert ratio_label(ratio, code, targets_identical=False, short=True).startswith("not generalisation")
    assert "learned nothing" in ratio_label(1.05, "learned_nothing", False)
    assert "ignores S" in ratio_label(1.05, "ignores_signal", False)


def test_ratio_bands_hold_for_a_model_that_uses_s_on_other_targets():
    assert ratio_label(1.05, "uses_signal", False) == "excellent generalisation"
    assert ratio_label(1.3, "uses_signal", False) == "good generalisation"
    assert ratio_label(1.7, "uses_signal", False) == "some overfitting"
    assert ratio_label(2.5, "uses_signal", False) == "significant overfitting"
    assert ratio_label(0.9, "uses_signal", False) == "test below train"
    assert ratio_label(math.inf, "uses_signal", False).startswith("undefined")


# ---- the whole evaluation -------------------------------------------------------------
def test_evaluation_measures_everything(tiny_config):
    config = tiny_config(noise="literal")
    splits = splits_for(config)
    model = s_blind_model(config, 2)
    evaluation = evaluate(model, config, splits, CPU)
    scores = evaluation.scores
    assert scores.baselines.zero_mse == pytest.approx(float(np.mean(splits["test"].targets ** 2)))
    assert len(scores.baselines.bandpass_per_frequency) == len(scores.per_frequency) == 2
    assert scores.verdict.code in ("uses_signal", "ignores_signal", "learned_nothing")
    assert evaluation.predictions.test.shape == evaluation.predictions.bandpass.shape == splits["test"].targets.shape
    assert scores.test_mse == pytest.approx(float(np.mean((evaluation.predictions.test - splits["test"].targets) ** 2)))
    assert evaluation.test is splits["test"]
    # A model that cannot see S never "uses the signal".
    assert scores.verdict.code != "uses_signal"
    # Train and test share their targets, measured, and the ratio's label says what that means.
    assert scores.targets_identical is True
    assert scores.ratio_verdict == ratio_label(scores.ratio, scores.verdict.code, True)
    assert "generalisation" not in scores.ratio_verdict.replace("cannot show generalisation", "")
    # ... and the noisy-input check is measured in every evaluation (10 dB: no augmentation)
    assert scores.noisy_input.snr_db == 10.0 and math.isfinite(scores.noisy_input.test_mse)


def test_results_json_round_trips_and_names_what_is_wrong(tiny_config):
    from lstm_core.results import Results, TrainingFacts

    config = tiny_config(noise="literal")
    scores = evaluate(s_blind_model(config, 2), config, splits_for(config), CPU).scores
    results = Results(TrainingFacts(status="finished", epochs_run=3, versions={"torch": "2"}), scores)
    record = json.loads(json.dumps(results.to_json()))
    again = Results.from_json(record)
    assert again.training == results.training
    assert again.scores.per_frequency[0].test_mse == scores.per_frequency[0].test_mse
    assert again.scores.verdict == scores.verdict
    assert record["baselines"]["zero_mse"] == scores.baselines.zero_mse and record["best_epoch"] is None
    for key, value, problem in (("per_frequency", {}, "'per_frequency' is a dict"),
                                ("ablation", {"s_zero_mse": 1.0}, "'ablation.s_shuffled_mse' is missing"),
                                ("epochs_run", True, "'epochs_run' is a bool"),
                                ("versions", {"torch": 2}, "'versions' holds something other than text")):
        with pytest.raises(ValueError, match=re.escape(problem)):
            Results.from_json({**record, key: value})
    with pytest.raises(ValueError, match="'test_mse' is missing"):
        Results.from_json({k: v for k, v in record.items() if k != "test_mse"})


def test_evaluation_refuses_data_with_another_number_of_frequencies(tiny_config):
    model = build_model(tiny_config(), 2)
    other = tiny_config(frequencies=[1.0, 2.0, 3.0])
    with pytest.raises(UserError, match="2 frequencies but the data has 3"):
        evaluate(model, other, splits_for(other), CPU)

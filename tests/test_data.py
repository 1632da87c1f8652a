import numpy as np
import pytest

from lstm_core.config import RunConfig
from lstm_core.data import generate, generate_for, splits_for


def test_defaults_are_the_literal_specification():
    signal = generate_for(RunConfig(), seed=1)
    assert signal.n_samples == 10_000
    assert signal.t[0] == 0.0 and signal.t[-1] == pytest.approx(9.999)
    np.testing.assert_array_equal(signal.frequencies, [1, 3, 5, 7])
    np.testing.assert_allclose(signal.targets[1], np.sin(2 * np.pi * 3 * signal.t))
    assert (signal.amplitude_low, signal.amplitude_high) == (0.8, 1.2)
    assert (signal.phase_low, signal.phase_high) == pytest.approx((0.0, 2 * np.pi))


def test_literal_noise_statistics():
    s = generate([1, 3, 5, 7], seed=1).S
    # Each component A sin(x + phi), phi ~ U(0, 2pi): mean 0, E[A^2]/2 = (1 + 0.16/12) / 2.
    component_var = (1.0 + 0.4**2 / 12) / 2
    assert abs(s.mean()) < 0.02
    assert s.var() == pytest.approx(component_var / 4, rel=0.05)
    assert np.abs(s).max() <= 1.2
    # S is independent of every target: correlation ~ 0.
    for target in generate([1, 3, 5, 7], seed=1).targets:
        assert abs(np.corrcoef(s, target)[0, 1]) < 0.05


def test_noise_free_mix_is_the_mean_of_the_targets():
    signal = generate([1, 3], amplitude_range=(1, 1), phase_range=(0, 0), seed=5)
    np.testing.assert_allclose(signal.S, signal.targets.mean(axis=0))


def test_same_seed_same_bits_and_seeds_differ():
    a, b, c = generate([1, 3], seed=1), generate([1, 3], seed=1), generate([1, 3], seed=2)
    assert a.S.tobytes() == b.S.tobytes()
    assert not np.allclose(a.S, c.S)


def test_splits_share_targets_but_not_noise():
    splits = splits_for(RunConfig(duration=1.0))
    np.testing.assert_array_equal(splits["train"].targets, splits["test"].targets)
    assert len({splits[k].S.tobytes() for k in splits}) == 3
    assert [splits[k].seed for k in ("train", "val", "test")] == [1, 3, 2]


def test_row_layout_matches_the_guide():
    signal = generate_for(RunConfig(), seed=1)
    inputs, targets = signal.rows()
    assert inputs.shape == (40_000, 5) and targets.shape == (40_000,)
    row = 10_000 + 17  # frequency 2 (3 Hz), sample 17
    np.testing.assert_array_equal(inputs[row, 1:], [0, 1, 0, 0])
    assert inputs[row, 0] == np.float32(signal.S[17])
    assert targets[row] == np.float32(signal.targets[1, 17])


def test_streams_pair_each_frequency_with_its_one_hot():
    signal = generate([1, 3, 5], duration=0.1, seed=1)
    inputs, targets = signal.streams()
    assert inputs.shape == (3, 100, 4)
    for k in range(3):
        np.testing.assert_array_equal(inputs[k, :, 1:], np.tile(np.eye(3)[k], (100, 1)))
        np.testing.assert_array_equal(inputs[k, :, 0], signal.S.astype(np.float32))



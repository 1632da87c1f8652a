"""Phase and frequency drift from the analytic signal: cases whose answer is
known in advance."""
import numpy as np
import pytest

from lstm_core.drift import DRIFT_LIMIT_DEG, phase_drift

FS = 100.0
T = np.arange(1000) / FS  # 10 s
FREQUENCIES = np.array([2.0, 5.0])
TARGETS = np.sin(2 * np.pi * FREQUENCIES[:, None] * T)


@pytest.mark.parametrize("offset_hz", [0.05, -0.02])
def test_an_output_off_frequency_drifts_at_the_rate_it_should(offset_hz):
    output = 0.7 * np.sin(2 * np.pi * (FREQUENCIES[:, None] + offset_hz) * T)
    drift = phase_drift(T, TARGETS, output, FREQUENCIES, FS)
    for k, row in enumerate(drift.summary):
        assert row.drift_deg_per_s == pytest.approx(360 * offset_hz, rel=0.03)
        assert row.output_hz == pytest.approx(FREQUENCIES[k] + offset_hz, abs=0.005)
        # the error grows linearly from 0: it reaches the limit where the line says
        assert row.limit_reached_s == pytest.approx(DRIFT_LIMIT_DEG / abs(360 * offset_hz), abs=0.1)
        error = drift.phase_error_deg[k]
        assert np.nanmax(np.abs(error - 360 * offset_hz * T)) < 6.0  # the Hilbert edge effect, past one period
        assert np.nanmax(np.abs(drift.frequency_hz[k] - FREQUENCIES[k] - offset_hz)) < 0.1


def test_an_exact_output_with_a_constant_lag_does_not_drift():
    output = np.sin(2 * np.pi * FREQUENCIES[:, None] * T - np.radians(30))
    drift = phase_drift(T, TARGETS, output, FREQUENCIES, FS)
    for k, row in enumerate(drift.summary):
        assert abs(row.drift_deg_per_s) < 0.2 and row.limit_reached_s is None
        assert np.nanmedian(drift.phase_error_deg[k]) == pytest.approx(-30, abs=0.5)


def test_an_output_without_oscillation_has_no_phase():
    output = np.full_like(TARGETS, 0.2)  # a model that learned nothing: a constant
    drift = phase_drift(T, TARGETS, output, FREQUENCIES, FS)
    assert np.isnan(drift.phase_error_deg).all() and np.isnan(drift.frequency_hz).all()
    assert all(row.output_hz is None and row.defined == 0.0 for row in drift.summary)

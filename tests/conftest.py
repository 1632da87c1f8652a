import signal

import pytest
import torch

from lstm_core.config import build_config
from lstm_core.results import Ablation, Baselines, BandpassFrequency, FrequencyScore, Scores, Verdict
from lstm_core.sysmon import SYSTEM_FIELDS
from lstm_core.verdict import ratio_label

torch.set_num_threads(1)

# A test run started in the background (`cmd &`) or under nohup inherits
# SIGINT or SIGHUP ignored, and the product rightly keeps an ignored signal
# ignored. The signal tests need what a terminal session has, so the test
# process (and every process it forks or starts) begins from the defaults.
signal.signal(signal.SIGINT, signal.default_int_handler)
if hasattr(signal, "SIGHUP"):
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


# Wall-clock and the machine's load and memory: the only numbers of a run
# allowed to differ between two runs of one config (resumed or not).
TIMES = ("epoch_time", "train_time_s", "system", *SYSTEM_FIELDS)


def run_numbers(run):
    """A run's metrics and results without the figures that measure the machine."""
    from lstm_core.rundir import RunDir

    metrics = [{k: v for k, v in m.to_json().items() if k not in TIMES} for m in RunDir(run).read_metrics()]
    results = RunDir(run).read_results().to_json()
    return metrics, {k: v for k, v in results.items() if k not in TIMES}


@pytest.fixture
def tiny_config():
    """A configuration small enough for a test to train in about a second."""
    def make(**overrides):
        base = dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=2, hidden_size=8,
                    batch_size=16, device="cpu", noise="informative")
        base.update(overrides)
        return build_config(base)
    return make


def synthetic_scores(test_mse=0.0064, train_mse=0.0061, frequencies=(1.0, 3.0, 5.0, 7.0), per_frequency=None,
                     verdict="uses_signal", text="The model uses the signal: it beats both baselines.") -> Scores:
    """Scores as an evaluation would measure them, with the given numbers."""
    per_frequency = per_frequency or [test_mse] * len(frequencies)
    ratio = test_mse / train_mse
    return Scores(
        test_mse=test_mse, train_mse=train_mse, ratio=ratio,
        per_frequency=tuple(FrequencyScore(hz, train_mse, mse, 0.999) for hz, mse in zip(frequencies, per_frequency)),
        baselines=Baselines(0.5, 0.03, 0.5, tuple(BandpassFrequency(hz, 0.03, 4.0, 0.0) for hz in frequencies)),
        ablation=Ablation(0.49, 0.51, 12345),
        verdict=Verdict(verdict, text, 1 - test_mse / 0.5, 0.5, 0.5),
        ratio_verdict=ratio_label(ratio, verdict, True))


def synthetic_run_evaluation(path, targets, predictions, frequencies, fs, scores=None, config=None):
    """What the Evaluate screen shows for a run, from arrays given here
    instead of a trained model."""
    import numpy as np

    from lstm_core.data import SignalSet
    from lstm_core.evaluation import Evaluation, Predictions, RunEvaluation
    from lstm_core.results import Results, TrainingFacts
    from lstm_core.rundir import RunDir

    n = targets.shape[1]
    t = np.arange(n) / fs
    test = SignalSet(t, targets.sum(axis=0), targets, np.asarray(frequencies, dtype=np.float64), fs, n / fs,
                     1.0, 1.0, 0.0, 0.0, 3)
    scores = scores or synthetic_scores(frequencies=tuple(frequencies))
    config = config or build_config({"duration": n / fs, "fs": fs, "frequencies": list(frequencies), "device": "cpu"})
    evaluation = Evaluation(config, test, Predictions(predictions, predictions, np.zeros_like(targets)), scores)
    return RunEvaluation(RunDir(path), evaluation, Results(TrainingFacts(status="finished"), scores))

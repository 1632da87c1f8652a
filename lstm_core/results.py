"""What a run's results.json holds, as types: what the evaluation measured
(`Scores`, built by evaluation.py) and how the model was trained
(`TrainingFacts`). Every reader (console, report, compare, repeats, the runs
listing, the app) reads these attributes; results.json is their JSON, one
flat object, the same keys as always.

Pure Python: reading a run's results never imports torch.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from .formatting import ratio
from .typed_json import from_json


@dataclass(frozen=True)
class FrequencyScore:
    hz: float
    train_mse: float
    test_mse: float
    correlation: float  # Pearson's r on the test set; NaN for a constant output


@dataclass(frozen=True)
class BandpassFrequency:
    hz: float
    test_mse: float
    gain: float
    quadrature: float


@dataclass(frozen=True)
class Baselines:
    """What trivial and reference predictors get on the test set (baselines.py)."""
    zero_mse: float
    bandpass_mse: float
    bandpass_half_width_hz: float
    bandpass_per_frequency: tuple[BandpassFrequency, ...]


@dataclass(frozen=True)
class Ablation:
    """The model's test MSE with its input S taken away (ablation.py)."""
    s_zero_mse: float
    s_shuffled_mse: float
    shuffle_seed: int


@dataclass(frozen=True)
class NoisyInput:
    """The model's test MSE with white noise on S (robustness.py)."""
    snr_db: float
    test_mse: float


@dataclass(frozen=True)
class Verdict:
    """What the model learned, derived from the measurements (verdict.py)."""
    code: str  # learned_nothing | ignores_signal | uses_signal
    text: str
    skill: float
    shuffle_cost: float
    zero_cost: float


@dataclass(frozen=True)
class Scores:
    """Everything an evaluation measured."""
    test_mse: float
    train_mse: float
    ratio: float  # test / train MSE
    per_frequency: tuple[FrequencyScore, ...]
    baselines: Baselines
    ablation: Ablation
    verdict: Verdict
    ratio_verdict: str  # what the ratio can say (verdict.ratio_label)
    # measured: train and test share their targets (results.json written
    # before this was measured lacks it; every generated split shares them)
    targets_identical: bool = True
    noisy_input: Optional[NoisyInput] = None
    evaluated_on: Optional[str] = None  # the device the evaluation ran on

    @property
    def worst_frequency_mse(self) -> float:
        return max(row.test_mse for row in self.per_frequency)

    def baseline_rows(self) -> list[tuple[str, str, float]]:
        """(label, short label, test MSE): the model next to the zero predictor
        and the band-pass reference, the table every reader shows first."""
        b = self.baselines
        return [
            ("LSTM on the test set", "LSTM", self.test_mse),
            ("zero predictor (mean squared target)", "zero predictor", b.zero_mse),
            (f"band-pass reference (non-causal, ±{b.bandpass_half_width_hz:g} Hz, fitted on train)",
             "band-pass reference", b.bandpass_mse),
        ]

    def ablation_rows(self) -> list[tuple[str, str, float]]:
        """(label, short label, test MSE) of the model with S taken away or noisier."""
        rows = [("LSTM with S replaced by zeros", "LSTM, S zeroed", self.ablation.s_zero_mse),
                ("LSTM with S shuffled in time", "LSTM, S shuffled", self.ablation.s_shuffled_mse)]
        if self.noisy_input is not None:
            rows.append((f"LSTM with white noise on S at {self.noisy_input.snr_db:g} dB SNR",
                         f"LSTM, S + noise {self.noisy_input.snr_db:g} dB", self.noisy_input.test_mse))
        return rows

    def skill_of(self, mse: float) -> str:
        """The share of the target power a predictor explains, 1 - MSE / zero MSE."""
        zero = self.baselines.zero_mse
        if not (zero > 0 and math.isfinite(mse)):
            return "n/a"
        return f"{100 * (1.0 - mse / zero):.0f}%"

    def ratio_text(self) -> str:
        return f"{ratio(self.ratio)} ({self.ratio_verdict})"


@dataclass(frozen=True)
class TrainingFacts:
    """How the evaluated model was trained; None where it is not known (a run
    killed before it wrote results.json, a checkpoint from elsewhere)."""
    status: Optional[str] = None
    stop_reason: Optional[str] = None
    epochs_run: Optional[int] = None
    best_epoch: Optional[int] = None
    best_val_loss: Optional[float] = None
    train_time_s: Optional[float] = None
    model: Optional[str] = None
    noise: Optional[str] = None
    training_regime: Optional[dict[str, Any]] = None
    augment_snr_db: Optional[float] = None  # 0 = no training-time noise augmentation
    target: Optional[dict[str, Any]] = None  # the target stop (trainer.target_record)
    device: Optional[str] = None
    precision: Optional[str] = None
    cuda_graphs: Optional[bool] = None
    versions: dict[str, str] = field(default_factory=dict)
    source_checkpoint: Optional[str] = None  # `freq-tui evaluate`: the checkpoint evaluated
    system: Optional[dict[str, Any]] = None  # the machine while it trained (sysmon.summarise)


@dataclass(frozen=True)
class Results:
    """results.json: how the model was trained and what its evaluation measured."""
    training: TrainingFacts
    scores: Scores

    def to_json(self) -> dict[str, Any]:
        training = {k: v for k, v in dataclasses.asdict(self.training).items()
                    if v is not None or k in ALWAYS_WRITTEN}
        return {**training, **dataclasses.asdict(self.scores)}

    @classmethod
    def from_json(cls, record: Any) -> "Results":
        """The typed results, or ValueError naming the first key that is
        missing or of the wrong type."""
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        return cls(from_json(TrainingFacts, record), from_json(Scores, record))


# Keys results.json has always had, written as null when unknown.
ALWAYS_WRITTEN = ("status", "stop_reason", "epochs_run", "best_epoch", "best_val_loss", "train_time_s", "target")

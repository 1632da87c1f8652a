import pytest
import torch

from lstm_core.config import build_config

torch.set_num_threads(1)


@pytest.fixture
def tiny_config():
    """A configuration small enough for a test to train in about a second."""
    def make(**overrides):
        base = dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=2, hidden_size=8,
                    batch_size=16, device="cpu", noise="informative")
        base.update(overrides)
        return build_config(base)
    return make

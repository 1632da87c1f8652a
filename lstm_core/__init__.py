"""freq-lstm's headless core: data, models, training, evaluation, reports.
Never imports Textual."""
__version__ = "0.1.0"

"""rnnkit: recurrent neural networks for sequences, text first."""

from rnnkit import nn

__version__ = "0.1.0"

__all__ = ["__version__", "nn"]

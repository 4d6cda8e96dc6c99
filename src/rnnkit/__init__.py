"""rnnkit: recurrent neural networks for sequences, text first.

- :mod:`rnnkit.nn`: RNN, LSTM and GRU cells and layers, exact on padded batches.
- :class:`rnnkit.TextClassifier`: a recurrent text classifier with a scikit-learn interface.
- ``rnnkit`` on the command line: train, evaluate and predict (``rnnkit --help``).
"""

from rnnkit import nn
from rnnkit.classifier import TextClassifier
from rnnkit.errors import BundleError, ConfigError, DataError, NotFittedError, RnnkitError

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "ConfigError",
    "DataError",
    "NotFittedError",
    "RnnkitError",
    "TextClassifier",
    "__version__",
    "nn",
]

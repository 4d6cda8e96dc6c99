"""rnnkit: recurrent neural networks for sequences, text first.

- :mod:`rnnkit.nn`: RNN, LSTM and GRU cells and layers, exact on padded batches.
- :class:`rnnkit.TextClassifier`: a recurrent text classifier with a scikit-learn interface.
- :class:`rnnkit.LanguageModel`: a recurrent language model that generates text, streamed.
- :class:`rnnkit.Translator`: an encoder-decoder with attention that translates.
- ``rnnkit`` on the command line: train, evaluate and predict (``rnnkit --help``).

``nn``, ``TextClassifier``, ``LanguageModel`` and ``Translator`` are imported when first
used, so that the command line starts (and ``--help`` answers) without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnnkit._lazy import lazy_names
from rnnkit.errors import BundleError, ConfigError, DataError, NotFittedError, RnnkitError

if TYPE_CHECKING:
    from rnnkit import nn
    from rnnkit.tasks.classification.estimator import TextClassifier
    from rnnkit.tasks.language_model.estimator import LanguageModel
    from rnnkit.tasks.translation.estimator import Translator

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "ConfigError",
    "DataError",
    "LanguageModel",
    "NotFittedError",
    "RnnkitError",
    "TextClassifier",
    "Translator",
    "__version__",
    "nn",
]

__getattr__ = lazy_names(
    __name__,
    {
        "nn": ".nn",
        "TextClassifier": ".tasks.classification.estimator",
        "LanguageModel": ".tasks.language_model.estimator",
        "Translator": ".tasks.translation.estimator",
    },
)

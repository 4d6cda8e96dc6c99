"""Models assembled from the recurrent core: the shared encoder and the task models on it.

- :mod:`rnnkit.models.config`: ``EncoderConfig``, ``ModelConfig`` (plain data, no torch);
- :mod:`rnnkit.models.encoder`: ``Encoder`` (embedding + recurrent stack) and ``Encoded``;
- :mod:`rnnkit.models.classifier`: ``SequenceClassifier`` (encoder + pooling + linear);
- :mod:`rnnkit.models.pooling`, :mod:`rnnkit.models.vectors`, :mod:`rnnkit.models.size`.

Names are imported from their modules when first used, so that the configurations load
without torch.
"""

from __future__ import annotations

from rnnkit._lazy import lazy_names

__getattr__ = lazy_names(
    __name__,
    {
        "CELLS": ".config",
        "POOLINGS": ".config",
        "EncoderConfig": ".config",
        "ModelConfig": ".config",
        "Encoded": ".encoder",
        "Encoder": ".encoder",
        "Pooling": ".pooling",
        "SequenceClassifier": ".classifier",
    },
)

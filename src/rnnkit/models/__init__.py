"""Models assembled from the recurrent core: the shared encoder and the task models on it.

- :mod:`rnnkit.models.config`: ``EncoderConfig``, ``ModelConfig`` (plain data, no torch);
- :mod:`rnnkit.models.encoder`: ``Encoder`` (embedding + recurrent stack) and ``Encoded``;
- :mod:`rnnkit.models.classifier`: ``SequenceClassifier`` (encoder + pooling + linear);
- :mod:`rnnkit.models.pooling`, :mod:`rnnkit.models.vectors`, :mod:`rnnkit.models.size`.

Names are imported from their modules when first used, so that the configurations load
without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "CELLS": "config",
    "POOLINGS": "config",
    "EncoderConfig": "config",
    "ModelConfig": "config",
    "Encoded": "encoder",
    "Encoder": "encoder",
    "Pooling": "pooling",
    "SequenceClassifier": "classifier",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rnnkit.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnnkit.models.{_HOMES[name]}"), name)

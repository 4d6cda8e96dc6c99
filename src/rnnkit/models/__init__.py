"""Models assembled from the recurrent core: the shared encoder and the task models on it."""

from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import CELLS, POOLINGS, EncoderConfig, ModelConfig
from rnnkit.models.encoder import Encoded, Encoder
from rnnkit.models.pooling import Pooling

__all__ = [
    "CELLS",
    "POOLINGS",
    "Encoded",
    "Encoder",
    "EncoderConfig",
    "ModelConfig",
    "Pooling",
    "SequenceClassifier",
]

"""Models assembled from the recurrent core: the sequence classifier and its parts."""

from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import CELLS, POOLINGS, ModelConfig
from rnnkit.models.pooling import Pooling

__all__ = ["CELLS", "POOLINGS", "ModelConfig", "Pooling", "SequenceClassifier"]

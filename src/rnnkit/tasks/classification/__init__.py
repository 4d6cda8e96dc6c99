"""Text classification: one label per text. Its options and objective are in ``options``, the
estimator (``TextClassifier``) in ``estimator``, its endpoint (POST /predict), ONNX graph and
ONNX Runtime predictor beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.data.config import DataConfig
from rnnkit.errors import BundleError
from rnnkit.models.config import ModelConfig
from rnnkit.tasks.classification.options import NAME, OPTIONS
from rnnkit.tasks.registry import TaskSpec, register
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.config import TrainConfig

ONNX_FILES = ("model.onnx", "model.int8.onnx")  # rnnkit export's files: float32, int8 weights


def check(bundle: Any, config: Path) -> None:
    """The labels and the vocabulary against the model's sizes, which the weights have."""
    model, labels = bundle.model, bundle.classes
    kinds = {type(label) for label in labels}
    if not kinds <= {str, int, float} or bool in kinds:
        raise BundleError(f"{config}: labels must be strings or numbers, got {labels!r:.80}")
    if len(labels) != model.num_classes:
        raise BundleError(
            f"{config}: lists {len(labels)} labels but the model has {model.num_classes} "
            "classes; the file was altered or belongs to another model"
        )
    if len({str(label) for label in labels}) != len(labels):
        raise BundleError(f"{config}: lists a label twice ({labels!r:.80})")
    if len(bundle.vocab) != model.vocab_size:
        raise BundleError(
            f"{config}: the vocabulary has {len(bundle.vocab)} tokens but the model's embedding "
            f"has {model.vocab_size} rows; the file was altered or belongs to another model"
        )


SPEC = register(
    TaskSpec(
        NAME,
        title="a classifier",
        plural="classifiers",
        options=OPTIONS,
        sections={"data": DataConfig, "model": ModelConfig, "training": TrainConfig},
        vocabulary=Vocabulary.from_json,
        check=check,
        estimator="rnnkit.tasks.classification.estimator:TextClassifier",
        endpoint="rnnkit.tasks.classification.endpoint:create_endpoint",
        route="/predict",
        example='{"texts": ["..."]}',
        exporter="rnnkit.tasks.classification.export:export_bundle",
        commands="rnnkit predict, evaluate, serve",
        train_command="rnnkit train",
        cli=("classify", "train", "lr-find", "evaluate", "predict"),
        command_line="rnnkit.tasks.classification.cli:COMMANDS",
        files=ONNX_FILES,
    )
)

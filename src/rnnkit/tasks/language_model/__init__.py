"""Language modelling: the next token of a stream of documents, and text generated from it.
Its options and metrics are in ``options``, the estimator (``LanguageModel``) in ``estimator``,
sampling in ``generation``, its endpoint (POST /generate), ONNX step graph and ONNX Runtime
step beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.data.config import StreamConfig
from rnnkit.errors import BundleError
from rnnkit.models.config import LanguageModelConfig
from rnnkit.tasks.language_model.options import NAME, OPTIONS
from rnnkit.tasks.registry import TaskSpec, register
from rnnkit.text.kinds import units_from_json
from rnnkit.train.config import TrainConfig

ONNX_FILE = "model.onnx"  # rnnkit export's step graph


def check(bundle: Any, config: Path) -> None:
    """The units against the model's vocabulary size, which the weights have."""
    if len(bundle.vocab) != bundle.model.vocab_size:
        raise BundleError(
            f"{config}: the vocabulary has {len(bundle.vocab)} tokens but the model has "
            f"{bundle.model.vocab_size}; the file was altered or belongs to another model"
        )


SPEC = register(
    TaskSpec(
        NAME,
        title="a language model",
        plural="language models",
        options=OPTIONS,
        sections={"data": StreamConfig, "model": LanguageModelConfig, "training": TrainConfig},
        vocabulary=units_from_json,
        check=check,
        estimator="rnnkit.tasks.language_model.estimator:LanguageModel",
        endpoint="rnnkit.tasks.language_model.endpoint:create_endpoint",
        route="/generate",
        example='{"prompt": "..."}',
        exporter="rnnkit.tasks.language_model.export:export_bundle",
        commands="rnnkit generate, lm evaluate, serve",
        train_command="rnnkit lm train",
        cli=("lm", "generate"),
        command_line="rnnkit.tasks.language_model.cli:COMMANDS",
        files=(ONNX_FILE,),
    )
)

"""Translation: an encoder-decoder with attention. Its options, objective and scores are in
``options``, the estimator (``Translator``) in ``estimator``, the searches in ``decoding``, its
endpoint (POST /translate), ONNX graphs and ONNX Runtime searcher beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.data.config import PairConfig
from rnnkit.errors import BundleError
from rnnkit.models.config import SearchConfig, TranslatorConfig
from rnnkit.tasks.registry import TaskSpec, register
from rnnkit.tasks.translation.options import NAME, OPTIONS
from rnnkit.text.kinds import PairUnits
from rnnkit.train.config import TrainConfig

ONNX_FILES = ("encoder.onnx", "decoder.onnx")  # the encoder, and the decoder's step


def check(bundle: Any, config: Path) -> None:
    """The two vocabularies against the model's sizes, which the weights have."""
    model = bundle.model
    sizes = (len(bundle.vocab.source), len(bundle.vocab.target))
    if sizes != (model.vocab_size, model.target_vocab_size):
        raise BundleError(
            f"{config}: the vocabularies have {sizes[0]} and {sizes[1]} tokens but the "
            f"model has {model.vocab_size} and {model.target_vocab_size}; the file was "
            "altered or belongs to another model"
        )


SPEC = register(
    TaskSpec(
        NAME,
        title="a translator",
        plural="translators",
        options=OPTIONS,
        sections={
            "data": PairConfig,
            "model": TranslatorConfig,
            "training": TrainConfig,
            "decoding": SearchConfig,
        },
        vocabulary=PairUnits.from_json,
        check=check,
        estimator="rnnkit.tasks.translation.estimator:Translator",
        endpoint="rnnkit.tasks.translation.endpoint:create_endpoint",
        route="/translate",
        example='{"texts": ["..."]}',
        exporter="rnnkit.tasks.translation.export:export_bundle",
        commands="rnnkit translate, translate evaluate, serve",
        train_command="rnnkit translate train",
        cli=("translate",),
        command_line="rnnkit.tasks.translation.cli:COMMANDS",
        files=ONNX_FILES,
    )
)

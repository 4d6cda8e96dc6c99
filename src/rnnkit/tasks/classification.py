"""Text classification: its options, declared once (``OPTIONS``), and its objective.

The options are the estimator's parameters (``TextClassifier``), the flags of ``rnnkit train``
and ``rnnkit lr-find``, the keys of ``--config`` files and recipes, and the fields of the
bundle's configuration, all derived from this table (see :mod:`rnnkit.options`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnkit.data.config import DataConfig
from rnnkit.models.config import CELLS, ModelConfig
from rnnkit.options import Option, OptionTable
from rnnkit.train.config import MAX_EPOCHS, MIN_EPOCHS, SCHEDULES, STEP_BUDGET, TrainConfig
from rnnkit.train.precision import PRECISIONS

if TYPE_CHECKING:
    from rnnkit.train.step import Objective

NAME = "classification"
MONITOR = "accuracy"  # higher is better; ties go to the lower validation loss


def objective(label_smoothing: float = 0.0) -> Objective:
    """Cross-entropy of the class (with label smoothing), validated on accuracy."""
    from rnnkit.train.step import Objective, cross_entropy

    return Objective(cross_entropy(label_smoothing), monitor=MONITOR, higher_is_better=True)


def _pooling_to_config(value: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


def _pooling_from_config(value: Any) -> str:
    return ",".join(value)


def _model(param: str, help: str, **kw: Any) -> Option:
    return Option(param, help, section="model", group="model", **kw)


def _text(param: str, help: str, **kw: Any) -> Option:
    return Option(param, help, section="data", group="text", **kw)


def _training(param: str, help: str, **kw: Any) -> Option:
    return Option(param, help, section="training", group="training", **kw)


OPTIONS = OptionTable(
    [
        _model(
            "cell",
            "recurrent cell, or bag: the mean of the embeddings, an order-blind baseline",
            choices=CELLS,
        ),
        _model("layers", "stacked recurrent layers", field="num_layers", type=int, metavar="N"),
        _model("bidirectional", "read each text in both directions", type=bool),
        _model(
            "embed_dim",
            "embedding size",
            type=int,
            default=None,
            optional=True,
            shown="the size of --vectors, else 128",
            metavar="N",
        ),
        _model(
            "hidden", "hidden size of each direction", field="hidden_size", type=int, metavar="N"
        ),
        _model(
            "pooling",
            "how states become one vector: one or more of last, mean, max, attention, "
            "separated by commas",
            metavar="LIST",
            to_config=_pooling_to_config,
            from_config=_pooling_from_config,
        ),
        _model(
            "dropout",
            "dropout on embeddings, between layers and before the output layer",
            type=float,
            metavar="P",
        ),
        _model(
            "word_dropout",
            "in training, replace this fraction of tokens by the unknown token",
            type=float,
            metavar="P",
        ),
        _model(
            "embed_dropout",
            "in training, zero all occurrences of this fraction of the word types in each batch",
            type=float,
            metavar="P",
        ),
        _model(
            "locked_dropout",
            "--dropout on embeddings and between layers keeps one mask per text for all its "
            "steps (variational dropout)",
            type=bool,
        ),
        _model(
            "weight_dropout",
            "DropConnect on the hidden-to-hidden matrices (as in AWD-LSTM)",
            type=float,
            metavar="P",
        ),
        Option(
            "vectors",
            "pretrained word vectors, GloVe or word2vec text format; the coverage of the "
            "vocabulary is reported",
            group="model",
            default=None,
            optional=True,
            metavar="FILE",
        ),
        _model(
            "freeze_embeddings",
            "keep the (pretrained) embeddings fixed during training",
            type=bool,
            switch="set",
        ),
        _text("tokenizer", "word or char", choices=("word", "char")),
        _text(
            "min_freq", "keep tokens seen at least this often in training", type=int, metavar="N"
        ),
        _text(
            "max_vocab",
            "largest vocabulary, counting padding and unknown",
            type=int,
            optional=True,
            metavar="N",
        ),
        _text(
            "max_len",
            "truncate texts to their first N tokens",
            type=int,
            optional=True,
            metavar="N",
        ),
        _training(
            "epochs",
            f"passes over the training data; none: enough for about {STEP_BUDGET} steps, from "
            f"{MIN_EPOCHS} to {MAX_EPOCHS} epochs",
            type=int,
            optional=True,
            metavar="N",
        ),
        _training("batch_size", "texts per batch (bucketed by length)", type=int, metavar="N"),
        _training("lr", "peak learning rate of AdamW", type=float, metavar="X"),
        _training("weight_decay", "AdamW weight decay", type=float, metavar="X"),
        _training(
            "warmup", "fraction of steps warming the learning rate up", type=float, metavar="F"
        ),
        _training("schedule", "learning-rate decay after warm-up", choices=SCHEDULES),
        _training("clip_norm", "clip the gradient norm to this (0: off)", type=float, metavar="X"),
        _training(
            "patience",
            "stop after N epochs without a better validation accuracy, keeping the best "
            "weights (0: never)",
            type=int,
            metavar="N",
        ),
        _training("label_smoothing", "label smoothing of the loss", type=float, metavar="X"),
        Option(
            "valid_split",
            "fraction of DATA held out for validation when there is no --valid (stratified, "
            "seeded)",
            section="data",
            type=float,
            metavar="F",
        ),
        _training(
            "seed", "random seed (weights, batches, validation split)", type=int, metavar="N"
        ),
        _training(
            "precision",
            "fp32, or bf16: bfloat16 autocast, faster on CPUs with native bf16",
            choices=PRECISIONS,
        ),
        _training(
            "max_steps",
            "stop after this many optimizer steps, for quick checks; the validation and test "
            "sets are still scored in full, and --no-test skips the test set",
            type=int,
            optional=True,
            shown="no limit",
            metavar="N",
        ),
        _training(
            "max_minutes",
            "train for this many minutes (the validation not counted), the learning-rate "
            "schedule running over that time; without --epochs, as many epochs as fit",
            type=float,
            optional=True,
            shown="no limit",
            metavar="M",
        ),
        Option(
            "threads",
            "CPU threads for torch",
            group="training",
            type=int,
            default=None,
            optional=True,
            shown="all cores",
            listed_before="precision",
            metavar="N",
        ),
    ],
    {"model": ModelConfig, "data": DataConfig, "training": TrainConfig},
)

GROUPS = {"model": "model", "text": "text", "training": "training"}  # --help sections

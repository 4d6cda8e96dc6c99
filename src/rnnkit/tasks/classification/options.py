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
from rnnkit.tasks import shared
from rnnkit.tasks.shared import GROUPS, model_option, text_option, training_option
from rnnkit.train.config import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    STEP_BUDGET,
    UNFREEZE,
    TrainConfig,
)

if TYPE_CHECKING:
    from rnnkit.train.step import Objective

NAME = "classification"
MONITOR = "accuracy"  # higher is better; ties go to the lower validation loss


def objective(label_smoothing: float = 0.0, *, members: int = 1) -> Objective:
    """Cross-entropy of the class (with label smoothing), validated on accuracy; for an
    ensemble of ``members``, the mean of the members' cross-entropies."""
    from rnnkit.train.step import Objective, cross_entropy, each_member

    loss = cross_entropy(label_smoothing)
    if members > 1:
        loss = each_member(loss)
    return Objective(loss, monitor=MONITOR, higher_is_better=True)


def _pooling_to_config(value: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


def _pooling_from_config(value: Any) -> str:
    return ",".join(value)


OPTIONS = OptionTable(
    [
        model_option(
            "cell",
            "recurrent cell (those rnnkit.nn.registry holds), or bag: the mean of the "
            "embeddings, an order-blind baseline",
            choices=CELLS,
        ),
        model_option(
            "layers", "stacked recurrent layers", field="num_layers", type=int, metavar="N"
        ),
        model_option("bidirectional", "read each text in both directions", type=bool),
        model_option(
            "embed_dim",
            "embedding size",
            type=int,
            default=None,
            optional=True,
            shown="the size of --vectors, else 128",
            metavar="N",
        ),
        model_option(
            "hidden", "hidden size of each direction", field="hidden_size", type=int, metavar="N"
        ),
        model_option(
            "pooling",
            "how states become one vector: one or more of last, mean, max, attention, "
            "separated by commas",
            metavar="LIST",
            to_config=_pooling_to_config,
            from_config=_pooling_from_config,
        ),
        model_option(
            "dropout",
            "dropout on embeddings, between layers and before the output layer",
            type=float,
            metavar="P",
        ),
        model_option(
            "word_dropout",
            "in training, replace this fraction of tokens by the unknown token",
            type=float,
            metavar="P",
        ),
        model_option(
            "embed_dropout",
            "in training, zero all occurrences of this fraction of the word types in each batch",
            type=float,
            metavar="P",
        ),
        model_option(
            "locked_dropout",
            "--dropout on embeddings and between layers keeps one mask per text for all its "
            "steps (variational dropout)",
            type=bool,
        ),
        model_option(
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
        Option(
            "vectors_vocab",
            "with --vectors, the vocabulary also takes the first N words of the vectors file "
            "that the training texts lack or hold fewer than --min-freq times, so that words "
            "first met in prediction keep their pretrained meaning (0: the training words "
            "only; not with --encoder or --pretrain, whose vocabulary is the language "
            "models')",
            group="model",
            type=int,
            default=100_000,
            metavar="N",
        ),
        Option(
            "encoder",
            "start the embedding and the recurrent stack from a language model (rnnkit lm "
            "train --tokenizer word); FWD,BWD: a forward and a backward (--reverse) one, for a "
            "bidirectional classifier. --cell, --layers, --hidden, --embed-dim and "
            "--bidirectional then come from it",
            group="model",
            default=None,
            optional=True,
            metavar="DIR[,DIR]",
        ),
        model_option(
            "ensemble",
            "train this many classifiers side by side (each from its own random start and "
            "dropout, on the same batches) and predict the mean of their probabilities; "
            "training and prediction take about N times as long",
            type=int,
            metavar="N",
        ),
        model_option(
            "freeze_embeddings",
            "keep the (pretrained) embeddings fixed during training",
            type=bool,
            switch="set",
        ),
        text_option("tokenizer", "word or char", choices=("word", "char")),
        text_option(
            "min_freq", "keep tokens seen at least this often in training", type=int, metavar="N"
        ),
        text_option(
            "max_vocab",
            "largest vocabulary, counting padding and unknown",
            type=int,
            optional=True,
            metavar="N",
        ),
        text_option(
            "max_len",
            "truncate texts to their first N tokens",
            type=int,
            optional=True,
            metavar="N",
        ),
        training_option(
            "epochs",
            f"passes over the training data; none: enough for about {STEP_BUDGET} steps, from "
            f"{MIN_EPOCHS} to {MAX_EPOCHS} epochs",
            type=int,
            optional=True,
            metavar="N",
        ),
        training_option(
            "batch_size", "texts per batch (bucketed by length)", type=int, metavar="N"
        ),
        *shared.optimizer_options(),
        training_option(
            "patience",
            "stop after N epochs without a better validation accuracy, keeping the best "
            "weights (0: never)",
            type=int,
            metavar="N",
        ),
        training_option(
            "lr_decay",
            "discriminative learning rates: each layer below the top (head, recurrent layers, "
            "embedding) trains at the rate of the one above divided by this (ULMFiT: 2.6)",
            type=float,
            metavar="X",
        ),
        training_option(
            "unfreeze",
            "gradual: the first epoch trains the head only, each further one a layer more, "
            "from the top (ULMFiT); none: all layers from the start",
            choices=UNFREEZE,
        ),
        training_option("label_smoothing", "label smoothing of the loss", type=float, metavar="X"),
        Option(
            "valid_split",
            "fraction of DATA held out for validation when there is no --valid (stratified, "
            "seeded)",
            section="data",
            type=float,
            metavar="F",
        ),
        *shared.run_options(
            "weights, batches, validation split",
            "stop after this many optimizer steps, for quick checks; the validation and test "
            "sets are still scored in full, and --no-test skips the test set",
        ),
    ],
    {"model": ModelConfig, "data": DataConfig, "training": TrainConfig},
)

__all__ = ["GROUPS", "MONITOR", "NAME", "OPTIONS", "objective"]

"""The model, text and training options of ``rnnkit train`` and ``rnnkit lr-find``, declared
once with the estimator's defaults, and the estimator they describe."""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from rnnkit.classifier import TextClassifier
from rnnkit.cli.common import check_data, is_dataset, load_file, load_named
from rnnkit.data.corpus import Corpus
from rnnkit.models.config import CELLS
from rnnkit.train.config import MAX_EPOCHS, MIN_EPOCHS, SCHEDULES, STEP_BUDGET
from rnnkit.train.precision import PRECISIONS

DEFAULTS: dict[str, Any] = {
    name: p.default
    for name, p in inspect.signature(TextClassifier.__init__).parameters.items()
    if name != "self"
}


def option(
    group: argparse._ArgumentGroup,
    flag: str,
    name: str,
    help: str,
    *,
    shown: str | None = None,
    **kw: Any,
) -> None:
    """An option whose default is the estimator's; ``shown`` says what a None default means."""
    default = DEFAULTS[name]
    if shown is None:
        shown = "none" if default is None else str(default)
    group.add_argument(flag, dest=name, default=default, help=f"{help} (default: {shown})", **kw)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model, text and training options, shared by ``train`` and ``lr-find``."""
    model = parser.add_argument_group("model")
    option(
        model,
        "--cell",
        "cell",
        "recurrent cell, or bag: the mean of the embeddings, an order-blind baseline",
        choices=CELLS,
    )
    option(model, "--layers", "layers", "stacked recurrent layers", type=int, metavar="N")
    model.add_argument(
        "--bidirectional",
        dest="bidirectional",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS["bidirectional"],
        help="read each text in both directions (default: yes)",
    )
    option(
        model,
        "--embed-dim",
        "embed_dim",
        "embedding size",
        shown="the size of --vectors, else 128",
        type=int,
        metavar="N",
    )
    option(model, "--hidden", "hidden", "hidden size of each direction", type=int, metavar="N")
    option(
        model,
        "--pooling",
        "pooling",
        "how states become one vector: one or more of last, "
        "mean, max, attention, separated by commas",
        metavar="LIST",
    )
    option(
        model,
        "--dropout",
        "dropout",
        "dropout on embeddings, between layers and before the output layer",
        type=float,
        metavar="P",
    )
    option(
        model,
        "--word-dropout",
        "word_dropout",
        "in training, replace this fraction of tokens by the unknown token",
        type=float,
        metavar="P",
    )
    option(
        model,
        "--embed-dropout",
        "embed_dropout",
        "in training, zero all occurrences of this fraction of the word types in each batch",
        type=float,
        metavar="P",
    )
    model.add_argument(
        "--locked-dropout",
        dest="locked_dropout",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS["locked_dropout"],
        help="--dropout on embeddings and between layers keeps one mask per text for all its "
        "steps (variational dropout) (default: yes)",
    )
    option(
        model,
        "--weight-dropout",
        "weight_dropout",
        "DropConnect on the hidden-to-hidden matrices (as in AWD-LSTM)",
        type=float,
        metavar="P",
    )
    option(
        model,
        "--vectors",
        "vectors",
        "pretrained word vectors, GloVe or word2vec text "
        "format; the coverage of the vocabulary is reported",
        metavar="FILE",
    )
    model.add_argument(
        "--freeze-embeddings",
        action="store_true",
        help="keep the (pretrained) embeddings fixed during training",
    )

    text = parser.add_argument_group("text")
    option(text, "--tokenizer", "tokenizer", "word or char", choices=("word", "char"))
    option(
        text,
        "--min-freq",
        "min_freq",
        "keep tokens seen at least this often in training",
        type=int,
        metavar="N",
    )
    option(
        text,
        "--max-vocab",
        "max_vocab",
        "largest vocabulary, counting padding and unknown",
        type=int,
        metavar="N",
    )
    option(
        text,
        "--max-len",
        "max_len",
        "truncate texts to their first N tokens",
        type=int,
        metavar="N",
    )

    training = parser.add_argument_group("training")
    option(
        training,
        "--epochs",
        "epochs",
        "passes over the training data; none: enough for "
        f"about {STEP_BUDGET} steps, from {MIN_EPOCHS} to {MAX_EPOCHS} epochs",
        type=int,
        metavar="N",
    )
    option(
        training,
        "--batch-size",
        "batch_size",
        "texts per batch (bucketed by length)",
        type=int,
        metavar="N",
    )
    option(training, "--lr", "lr", "peak learning rate of AdamW", type=float, metavar="X")
    option(
        training, "--weight-decay", "weight_decay", "AdamW weight decay", type=float, metavar="X"
    )
    option(
        training,
        "--warmup",
        "warmup",
        "fraction of steps warming the learning rate up",
        type=float,
        metavar="F",
    )
    option(
        training, "--schedule", "schedule", "learning-rate decay after warm-up", choices=SCHEDULES
    )
    option(
        training,
        "--clip-norm",
        "clip_norm",
        "clip the gradient norm to this (0: off)",
        type=float,
        metavar="X",
    )
    option(
        training,
        "--patience",
        "patience",
        "stop after N epochs without a better "
        "validation accuracy, keeping the best weights (0: never)",
        type=int,
        metavar="N",
    )
    option(
        training,
        "--label-smoothing",
        "label_smoothing",
        "label smoothing of the loss",
        type=float,
        metavar="X",
    )
    option(
        training,
        "--seed",
        "seed",
        "random seed (weights, batches, validation split)",
        type=int,
        metavar="N",
    )
    option(
        training,
        "--threads",
        "threads",
        "CPU threads for torch",
        shown="all cores",
        type=int,
        metavar="N",
    )

    option(
        training,
        "--precision",
        "precision",
        "fp32, or bf16: bfloat16 autocast, faster on CPUs with native bf16",
        choices=PRECISIONS,
    )
    option(
        training,
        "--max-steps",
        "max_steps",
        "stop after this many optimizer steps, for quick checks; the validation and test sets "
        "are still scored in full, and --no-test skips the test set",
        shown="no limit",
        type=int,
        metavar="N",
    )


def load_training_data(
    args: argparse.Namespace, tokenizer: str
) -> tuple[Corpus, Corpus | None, Corpus | None, list[str] | None]:
    """Training, validation and test data and the class names from DATA, --valid, --test."""
    check_data(args.data)
    if is_dataset(args.data):
        splits = load_named(args, args.data, tokenizer)
        valid: Corpus | None = splits.valid
        test: Corpus | None = splits.test
        if getattr(args, "valid", None):
            valid = load_file(args, args.valid, tokenizer)
        if getattr(args, "test", None):
            test = load_file(args, args.test, tokenizer)
        return splits.train, valid, test, list(splits.classes)
    train = load_file(args, args.data, tokenizer)
    valid = load_file(args, args.valid, tokenizer) if getattr(args, "valid", None) else None
    test = load_file(args, args.test, tokenizer) if getattr(args, "test", None) else None
    return train, valid, test, None


def classifier_from(args: argparse.Namespace) -> TextClassifier:
    params = {name: getattr(args, name, DEFAULTS[name]) for name in DEFAULTS if name != "verbose"}
    return TextClassifier(**params, verbose=not args.quiet)

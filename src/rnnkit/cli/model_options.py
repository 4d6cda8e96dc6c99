"""The model, text and training options of ``rnnkit train`` and ``rnnkit lr-find`` (declared
once, in :mod:`rnnkit.tasks.classification`), the data they read and the estimator they
describe."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rnnkit.cli.common import check_data, is_dataset, load_file, load_named
from rnnkit.tasks.classification import GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.classifier import TextClassifier
    from rnnkit.data.corpus import Corpus


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model, text and training options, shared by ``train`` and ``lr-find``."""
    OPTIONS.add_arguments(parser, GROUPS)


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
    from rnnkit.classifier import TextClassifier

    values = vars(args)
    params = {name: values.get(name, default) for name, default in OPTIONS.defaults.items()}
    return TextClassifier(**params, verbose=not args.quiet)

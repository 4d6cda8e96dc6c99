"""The model, text and training options of ``rnnkit train`` and ``rnnkit lr-find`` (declared
once, in :mod:`rnnkit.tasks.classification.options`), the data they read and the estimator they
describe."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rnnkit.cli.common import check_data, is_dataset, load_file, load_named
from rnnkit.tasks.classification.options import GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.data.corpus import Corpus
    from rnnkit.tasks.classification.estimator import TextClassifier


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model, text and training options, shared by ``train`` and ``lr-find``."""
    OPTIONS.add_arguments(parser, GROUPS)


def load_training_data(
    args: argparse.Namespace,
    tokenizer: str,
    *,
    valid: str | None = None,
    test: str | None = None,
    quiet: bool,
) -> tuple[Corpus, Corpus | None, Corpus | None, list[str] | None]:
    """Training data from ``args.data``, validation and test data (a dataset's own splits,
    or the files ``valid`` and ``test``, which replace them) and the class names."""
    check_data(args.data)

    def read(path: str | None) -> Corpus | None:
        return load_file(args, path, tokenizer, quiet=quiet) if path else None

    if is_dataset(args.data):
        splits = load_named(args, args.data, tokenizer)
        valid_data, test_data = read(valid) or splits.valid, read(test) or splits.test
        return splits.train, valid_data, test_data, list(splits.classes)
    train = load_file(args, args.data, tokenizer, quiet=quiet)
    return train, read(valid), read(test), None


def classifier_from(
    args: argparse.Namespace, *, quiet: bool, threads: int | None = None
) -> TextClassifier:
    """The estimator the options in ``args`` describe (``threads``, when given, instead of
    ``--threads``)."""
    from rnnkit.tasks.classification.estimator import TextClassifier

    values = vars(args)
    params = {name: values.get(name, default) for name, default in OPTIONS.defaults.items()}
    if threads is not None:
        params["threads"] = threads
    return TextClassifier(**params, verbose=not quiet)

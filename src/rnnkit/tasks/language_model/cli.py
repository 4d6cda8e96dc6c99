"""The language model's command line, described once (``COMMANDS``): ``rnnkit lm train``,
``evaluate``, ``lr-find`` and ``generate`` (also ``rnnkit generate``); the commands that use a
model are in :mod:`rnnkit.tasks.language_model.cli_model`."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from rnnkit.cli.runs import (
    checkpoint_policy,
    estimator_from,
    print_trained,
    run_metrics,
    run_options,
)
from rnnkit.cli.tasks import Data, RangeTest, TaskCommands, Train
from rnnkit.plural import counted
from rnnkit.tasks.language_model import cli_model
from rnnkit.tasks.language_model.cli_model import (
    CORPUS_HELP,
    add_corpus_options,
    describe,
    read_corpus,
    rounded,
)
from rnnkit.tasks.language_model.options import GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.tasks.language_model.estimator import LanguageModel
    from rnnkit.train.distributed import World

TRAIN_DESCRIPTION = f"""\
Train a recurrent language model and write a model bundle to --out.

The documents are read as one stream per batch row and trained on with truncated
backpropagation through time: windows of --window tokens, the state carried from window to
window and reset between documents. Progress shows the loss and the perplexity (bits per
character for a character model); --json ends with the validation scores.

{CORPUS_HELP}

A named dataset brings its validation split (and test split); for other corpora, --valid FILE,
or --valid-split F holds out the tail of the training text."""

TRAIN_EXAMPLES = """\
examples:
  rnnkit lm train tinyshakespeare --data-dir ../shared/data --out models/shakespeare
  rnnkit lm train ptb --config recipes/lm/ptb.json --out models/ptb
  rnnkit lm train notes.txt --document paragraph --valid-split 0.05 --out models/notes
  rnnkit lm train aclImdb_v1.tar.gz#aclImdb/train/unsup --unit subword --document file --out m/
"""


def model_from(
    args: argparse.Namespace, *, quiet: bool, threads: int | None = None
) -> LanguageModel:
    """The estimator the options in ``args`` describe."""
    from rnnkit.tasks.language_model.estimator import LanguageModel

    return estimator_from(LanguageModel, args, quiet=quiet, threads=threads)  # type: ignore[no-any-return]


def prepared(args: argparse.Namespace) -> argparse.Namespace:
    """The options of this run (a resumed run's saved ones), checked before any text is read
    (and, for ``--nproc``, before torchrun starts the processes)."""
    from rnnkit.data.stream import check_processes

    processes = args.nproc
    args = run_options(args, "CORPUS")
    model_from(args, quiet=True).check_params()
    if processes is not None and processes > 0:
        check_processes(args.batch_size, processes)  # each process its share of the rows
    return args


def train_and_save(
    args: argparse.Namespace, world: World, start: float, *, quiet: bool, threads: int | None
) -> int:
    from rnnkit.train import distributed

    lm = model_from(args, quiet=quiet, threads=threads)
    document = args.document
    splits = read_corpus(
        args, args.data, document=document, valid_split=0.0 if args.valid else args.valid_split
    )
    valid = read_corpus(args, args.valid, document=document).train if args.valid else splits.valid
    test = read_corpus(args, args.test, document=document).train if args.test else splits.test
    if args.no_test:
        test = None
    lm.valid_split = 0.0  # held out above, where the corpus is read
    lm.fit(splits.train, valid, checkpoints=checkpoint_policy(args))
    if world.distributed:
        distributed.shutdown()
    if not world.is_main:
        return 0
    if test is not None:
        logging.getLogger("rnnkit").info(
            "scoring the test text: %s", counted(len(test), "document")
        )
    metrics = {
        "data": args.data,
        "valid": rounded(lm.metrics_["valid"]),
        "test": rounded(lm.evaluate(test)) if test else None,
        **run_metrics(lm, start),
    }
    path = lm.save(args.out, metrics, option="--out", keep_others=True)
    for split in ("valid", "test"):
        if metrics[split]:
            print(f"{split}: {describe(metrics[split])}")
    print_trained(metrics, path, as_json=args.json)
    return 0


def range_test_data(args: argparse.Namespace) -> tuple[LanguageModel, tuple[list[str]]]:
    """``rnnkit lm lr-find``'s fresh language model and training documents."""
    lm = model_from(args, quiet=True)
    lm.check_params()
    return lm, (read_corpus(args, args.data, document=args.document).train,)


COMMANDS = TaskCommands(
    "lm",
    help="train, evaluate and use language models (also rnnkit generate)",
    description="Language models: rnnkit lm train, evaluate, lr-find and generate (also "
    "rnnkit generate). Serve one with rnnkit serve, export it with rnnkit export.",
    options=OPTIONS,
    data=Data(
        "CORPUS",
        "text, folder or dataset",
        add_corpus_options,
        valid_help="validation text (read like CORPUS)",
        test_help="test text, scored after training",
        no_test_help="score no test text, not even a dataset's own",
    ),
    train=Train(
        "train a language model and write a model bundle",
        TRAIN_DESCRIPTION,
        TRAIN_EXAMPLES,
        GROUPS,
        prepared,
        train_and_save,
    ),
    evaluate=cli_model.EVALUATE,
    lr_find=RangeTest(
        "learning-rate range test on a language model",
        "The learning-rate range test of rnnkit lr-find on a fresh language model with these "
        "options (every option of rnnkit lm train applies, --config too): a few windows of "
        "training while the learning rate grows from --min-lr to --max-lr, the loss at each, "
        "and a suggested --lr.\n\n" + CORPUS_HELP,
        range_test_data,
    ),
    verb="generate",
    use=cli_model.GENERATE,
    top_level=("generate",),
)

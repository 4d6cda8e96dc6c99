"""The translator's command line, described once (``COMMANDS``): ``rnnkit translate train``,
``evaluate``, ``lr-find`` and ``text`` (``rnnkit translate MODEL ...`` is short for ``rnnkit
translate text MODEL ...``); the commands that use a model are in
:mod:`rnnkit.tasks.translation.cli_model`."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from rnnkit.cli.runs import (
    checkpoint_policy,
    estimator_from,
    print_trained,
    run_metrics,
    run_options,
)
from rnnkit.cli.tasks import Data, RangeTest, TaskCommands, Train
from rnnkit.tasks.translation import cli_model
from rnnkit.tasks.translation.cli_model import (
    DATA_HELP,
    add_decoding,
    add_pair_options,
    describe,
    read_pairs,
    wrapped,
)
from rnnkit.tasks.translation.options import GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.tasks.translation.estimator import Translator
    from rnnkit.train.distributed import World

TRAINING_GROUPS = {k: v for k, v in GROUPS.items() if k != "decoding"}  # decoding: its own

TRAIN_DESCRIPTION = f"""\
Train an encoder-decoder translator with attention and write a model bundle to --out.

Subword units are learnt from the training sentences (--unit, --vocab-size, --joint); pairs
longer than --max-len tokens are left out and counted. Training shows a progress bar; after
each epoch the validation pairs are translated greedily and scored with BLEU, which chooses
the best epoch and stops training early. The test pairs are then translated with --beam and
scored (BLEU, lower-cased BLEU, chrF).

{DATA_HELP}"""

TRAIN_EXAMPLES = """\
examples:
  rnnkit translate train multi30k --data-dir ../shared/data --out models/de-en
  rnnkit translate train multi30k --source en --target de \\
      --config recipes/translate/multi30k.json --out models/en-de
  rnnkit translate train train.de train.en --valid val.de val.en --out models/mine
  rnnkit translate train pairs.tsv --source de --target en --out models/tsv
"""


def translator_from(
    args: argparse.Namespace, *, quiet: bool, threads: int | None = None
) -> Translator:
    """The estimator the options in ``args`` describe."""
    from rnnkit.tasks.translation.estimator import Translator

    return estimator_from(Translator, args, quiet=quiet, threads=threads)  # type: ignore[no-any-return]


def prepared(args: argparse.Namespace) -> argparse.Namespace:
    """The options of this run (a resumed run's saved ones), checked before any data is read."""
    args = run_options(args)
    translator_from(args, quiet=True).check_params()
    return args


def train_and_save(
    args: argparse.Namespace, world: World, start: float, *, quiet: bool, threads: int | None
) -> int:
    from rnnkit.data.pairs import pair_names
    from rnnkit.train import distributed

    translator = translator_from(args, quiet=quiet, threads=threads)
    # recorded with the model, so that it is scored in its own direction
    names = pair_names(args.data, args.source, args.target, fields=False)
    translator.source, translator.target = names
    splits = read_pairs(args, args.data)
    valid = read_pairs(args, args.valid).train if args.valid else splits.valid
    test = read_pairs(args, args.test).train if args.test else splits.test
    if args.no_test:
        test = None
    translator.valid_split = 0.0 if valid is not None else translator.valid_split
    translator.fit(
        splits.train.source,
        splits.train.target,
        (valid.source, valid.target) if valid is not None else None,
        checkpoints=checkpoint_policy(args),
    )
    if world.distributed:
        distributed.shutdown()
    if not world.is_main:
        return 0
    test_scores = None
    if test is not None:
        logging.getLogger("rnnkit").info(
            "translating the %s test sentences (beam %d)", f"{len(test):,}", translator.beam
        )
        test_scores = translator.evaluate(test.source, test.target)
    metrics = {
        "data": args.data,
        "valid": translator.metrics_["valid"],
        "test": test_scores,
        **run_metrics(translator, start),
    }
    path = translator.save(args.out, metrics, option="--out", keep_others=True)
    if metrics["valid"]:
        print(f"valid: BLEU {metrics['valid']['bleu']:.2f} (greedy)")
    if test_scores:
        print(f"test: {describe(test_scores)}")
    print_trained(metrics, path, as_json=args.json)
    return 0


def range_test_data(args: argparse.Namespace) -> tuple[Translator, tuple[Any, Any]]:
    """``rnnkit translate lr-find``'s fresh translator and training sentences."""
    translator = translator_from(args, quiet=True)
    translator.check_params()
    pairs = read_pairs(args, args.data).train
    return translator, (pairs.source, pairs.target)


COMMANDS = TaskCommands(
    "translate",
    help="translate text; train and score translators",
    description="Translators: rnnkit translate train, evaluate, lr-find and text; rnnkit "
    "translate MODEL [TEXT ...] is short for rnnkit translate text MODEL .... Serve one with "
    "rnnkit serve, export it with rnnkit export.",
    options=OPTIONS,
    data=Data(
        "DATA",
        "pairs, or a dataset name",
        add_pair_options,
        valid_help="validation pairs (read like DATA)",
        test_help="test pairs, scored after training",
        no_test_help="score no test pairs, not even a dataset's own",
        many=True,
    ),
    train=Train(
        "train a translator and write a model bundle",
        TRAIN_DESCRIPTION,
        TRAIN_EXAMPLES,
        TRAINING_GROUPS,
        prepared,
        train_and_save,
        extra=add_decoding,
    ),
    evaluate=cli_model.EVALUATE,
    lr_find=RangeTest(
        "learning-rate range test on a translator",
        wrapped(
            "The learning-rate range test of rnnkit lr-find on a fresh translator with these "
            "options (every option of rnnkit translate train applies, --config too)."
        )
        + "\n\n"
        + DATA_HELP,
        range_test_data,
    ),
    verb="text",
    use=cli_model.TEXT,
    default="text",
)

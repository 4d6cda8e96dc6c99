"""``rnnkit translate``: train a translator, translate with it, score it.

rnnkit translate train DATA [TGT_FILE] --out DIR     train and write a model bundle
rnnkit translate MODEL [TEXT ...] [--input FILE]     translate (rnnkit translate text ...)
rnnkit translate evaluate MODEL DATA [TGT_FILE]      BLEU, lower-cased BLEU, chrF
rnnkit translate lr-find DATA [TGT_FILE]             learning-rate range test
"""

from __future__ import annotations

import argparse
import functools
import logging
import textwrap
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_device_options
from rnnkit.cli.config_file import apply_config
from rnnkit.cli.train import (
    add_out_options,
    add_run_options,
    checkpoint_policy,
    print_trained,
    run_metrics,
    run_options,
    run_training,
)
from rnnkit.cli.translating import describe, read_pairs, run_evaluate, run_text
from rnnkit.tasks.translation.options import BACKENDS, DECODING, GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.tasks.translation.estimator import Translator
    from rnnkit.train.distributed import World

SUBCOMMANDS = ("train", "evaluate", "lr-find", "text")

DATA_HELP = """\
DATA is two line-aligned files, SRC_FILE TGT_FILE (line N of one translates line N of the
other; .gz files are read as well), one .csv/.tsv file with a source and a target column (a
first row naming the --source and --target columns is a header), one .jsonl file with the
fields --source and --target (default: source, target), or the named dataset multi30k
(--source de --target en, or the reverse; its val and test_2016_flickr splits come with it)."""

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


def _wrapped(text: str) -> str:
    """A paragraph of a description that argparse shows as written (RawDescriptionHelpFormatter,
    for the examples), wrapped as DATA_HELP is."""
    return textwrap.fill(text, 92)


def shorthand(argv: list[str]) -> list[str]:
    """``rnnkit translate MODEL ...`` is ``rnnkit translate text MODEL ...``."""
    if len(argv) >= 2 and argv[0] == "translate" and argv[1] not in (*SUBCOMMANDS, "-h", "--help"):
        return ["translate", "text", *argv[1:]]
    return argv


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "translate",
        help="translate text; train and score translators",
        description="Translators: rnnkit translate train, rnnkit translate MODEL [TEXT ...] "
        "(short for rnnkit translate text MODEL ...), rnnkit translate evaluate, rnnkit "
        "translate lr-find. Serve one with rnnkit serve, export it with rnnkit export.",
    )
    sub = parser.add_subparsers(dest="translate_command", metavar="COMMAND", required=True)
    _add_train(sub)
    _add_text(sub)
    _add_evaluate(sub)
    _add_lr_find(sub)


def _add_pair_options(parser: argparse.ArgumentParser, *, model: bool = False) -> None:
    """How sentence pairs are read; on a command that uses a model (``model``), --source and
    --target default to the languages it was trained on."""
    group = parser.add_argument_group("reading sentence pairs")
    for name in ("source", "target"):
        action = OPTIONS.add_argument(group, name)
        if model:
            action.help = (
                f"{OPTIONS[name].help.split(';')[0]} (default: as the model was trained; the "
                "other direction is refused)"
            )
    group.add_argument(
        "--encoding", default="utf-8", help="text encoding of the files (default: utf-8)"
    )
    group.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="leave out pairs with an empty side (and report how many) instead of stopping",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with one subfolder per named dataset (default: $RNNKIT_DATA_DIR, then "
        "the cache, then a download)",
    )


def _add_decoding(parser: argparse.ArgumentParser, *, backend: bool = False) -> None:
    """The search's options: on training, the values saved with the model; on the commands
    that use a model (``backend``), changes to what it was saved with."""
    group = parser.add_argument_group("decoding")
    for name in DECODING:
        action = OPTIONS.add_argument(group, name)
        if backend:
            action.default = None
            action.help = f"{OPTIONS[name].help} (default: as the model was saved)"
    if backend:
        group.add_argument(
            "--backend",
            choices=BACKENDS,
            default="torch",
            help="torch, or onnx: ONNX Runtime on MODEL/encoder.onnx and MODEL/decoder.onnx "
            "(rnnkit export MODEL first)",
        )


def _add_train(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train a translator and write a model bundle",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "data", metavar="DATA", nargs="*", default=[], help="pairs, or a dataset name"
    )
    add_out_options(parser)
    split = parser.add_mutually_exclusive_group()
    split.add_argument(
        "--valid", nargs="+", metavar="PATH", help="validation pairs (read like DATA)"
    )
    OPTIONS.add_argument(split, "valid_split")
    tests = parser.add_mutually_exclusive_group()
    tests.add_argument(
        "--test", nargs="+", metavar="PATH", help="test pairs, scored after training"
    )
    tests.add_argument(
        "--no-test", action="store_true", help="score no test pairs, not even a dataset's own"
    )
    _add_pair_options(parser)
    OPTIONS.add_arguments(parser, {k: v for k, v in GROUPS.items() if k != "decoding"})
    _add_decoding(parser)
    add_run_options(parser, run_train)


def _add_text(sub: Any) -> None:
    parser = sub.add_parser(
        "text",
        help="translate sentences (rnnkit translate MODEL [TEXT ...])",
        description=_wrapped(
            "Translate sentences with a translator bundle (rnnkit translate train --out): the "
            "TEXT arguments, or each line of --input (order kept; an empty line gives an empty "
            "translation). One translation per line on standard output, or with --json one "
            "JSON object per line."
        ),
        epilog='examples:\n  rnnkit translate models/de-en "Ein Hund rennt über die Wiese."\n'
        "  rnnkit translate models/de-en --input test.de --beam 5 > test.en\n"
        '  rnnkit translate models/de-en "Zwei Männer." --plot-attention attention.png',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="translator bundle folder")
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="sentences to translate")
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="translate each line of FILE (- for standard input), read as it comes; a line "
        "holds at most 1,000,000 characters",
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="text encoding of --input (default: utf-8)"
    )
    _add_decoding(parser, backend=True)
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per sentence: source, translation, tokens (how many), log_prob",
    )
    parser.add_argument(
        "--plot-attention",
        metavar="FILE",
        help="draw the attention of one sentence's translation (source against output "
        "tokens) to FILE (.png, .svg or .pdf)",
    )
    add_device_options(parser)
    parser.set_defaults(run=run_text)


def _add_evaluate(sub: Any) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="score a translator: BLEU, lower-cased BLEU, chrF",
        description=_wrapped(
            "Translate the source side of DATA and score the translations against the target "
            "side with sacreBLEU: BLEU (cased, detokenized), BLEU of lower-cased text (what "
            "published Multi30k figures report) and chrF, each with its signature."
        )
        + "\n\n"
        + DATA_HELP
        + "\n\nA named dataset is scored on its test split unless --split says otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="translator bundle folder")
    parser.add_argument("data", metavar="DATA", nargs="+", help="pairs, or a dataset name")
    parser.add_argument(
        "--split", choices=("train", "valid", "test"), help="the split of a named dataset"
    )
    _add_pair_options(parser, model=True)
    _add_decoding(parser, backend=True)
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    add_device_options(parser)
    parser.set_defaults(run=run_evaluate)


def _add_lr_find(sub: Any) -> None:
    from rnnkit.cli.lr_find import add_range_options

    parser = sub.add_parser(
        "lr-find",
        help="learning-rate range test on a translator",
        description=_wrapped(
            "The learning-rate range test of rnnkit lr-find on a fresh translator with these "
            "options (every option of rnnkit translate train applies, --config too)."
        )
        + "\n\n"
        + DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", nargs="+", help="pairs, or a dataset name")
    parser.add_argument("--config", metavar="FILE", help="JSON object of options")
    add_range_options(parser)
    _add_pair_options(parser)
    OPTIONS.add_arguments(parser, {k: v for k, v in GROUPS.items() if k != "decoding"})
    parser.set_defaults(run=run_lr_find, configure=functools.partial(apply_config, parser))


# -- reading -------------------------------------------------------------------------------


def translator_from(
    args: argparse.Namespace, *, quiet: bool, threads: int | None = None
) -> Translator:
    from rnnkit.tasks.translation.estimator import Translator

    values = vars(args)
    params = {name: values.get(name, default) for name, default in OPTIONS.defaults.items()}
    if threads is not None:
        params["threads"] = threads
    return Translator(**params, verbose=not quiet)


# -- training ------------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> int:
    return run_training(args, prepared, train_and_save)


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


def run_lr_find(args: argparse.Namespace) -> int:
    from rnnkit.cli.lr_find import report
    from rnnkit.plotting import image_path
    from rnnkit.train.lr_find import check_range

    check_range(args.min_lr, args.max_lr, args.steps)
    plot = image_path("--plot", args.plot) if args.plot else None
    translator = translator_from(args, quiet=True)
    translator.check_params()
    pairs = read_pairs(args, args.data).train
    result = translator.lr_find(
        pairs.source, pairs.target, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps
    )
    return report(result, args, plot)

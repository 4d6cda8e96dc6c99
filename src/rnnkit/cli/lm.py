"""``rnnkit lm train`` and ``rnnkit lm evaluate``: language models on any text."""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_device_options, apply_run_options, print_json, set_threads
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
from rnnkit.plural import counted
from rnnkit.tasks.language_model.options import GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.data.documents import DocumentSplits
    from rnnkit.tasks.language_model.estimator import LanguageModel
    from rnnkit.train.distributed import World

CORPUS_HELP = """\
CORPUS is a plain text file (.txt, or any file read as text; --document says what one
document is), a folder of text files or such a folder in a .tar.gz (ARCHIVE#FOLDER, e.g.
aclImdb_v1.tar.gz#aclImdb/train/unsup), a labelled file the classifier reads (CSV, TSV, JSON
Lines, ...: its text column, labels ignored), any of them gzip-compressed (.gz), or a named
dataset: ptb, tinyshakespeare, imdb-lm (IMDB's train and unlabelled reviews; its test split
the test reviews). A document holds at most 134,217,728 (2^27) characters."""

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


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "lm",
        help="train and evaluate language models (then: rnnkit generate)",
        description="Language models: rnnkit lm train, rnnkit lm evaluate. Generate text "
        "with rnnkit generate, serve it with rnnkit serve.",
    )
    sub = parser.add_subparsers(dest="lm_command", metavar="COMMAND", required=True)
    _add_train(sub)
    _add_evaluate(sub)
    _add_lr_find(sub)


def _add_corpus_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading the corpus")
    group.add_argument(
        "--text-col",
        default="text",
        metavar="NAME",
        help="the text column of a CSV/TSV/JSON Lines corpus (default: text)",
    )
    group.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of the files, e.g. latin-1 (default: utf-8; a named dataset's own "
        "is known)",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with one subfolder per named dataset (default: $RNNKIT_DATA_DIR, then "
        "the cache)",
    )


def _add_train(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train a language model and write a model bundle",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", metavar="CORPUS", nargs="?", help="text, folder or dataset")
    add_out_options(parser)
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--valid", metavar="PATH", help="validation text (read like CORPUS)")
    OPTIONS.add_argument(split, "valid_split")
    tests = parser.add_mutually_exclusive_group()
    tests.add_argument("--test", metavar="PATH", help="test text, scored after training")
    tests.add_argument(
        "--no-test", action="store_true", help="score no test text, not even a dataset's own"
    )
    _add_corpus_options(parser)
    OPTIONS.add_arguments(parser, GROUPS)
    add_run_options(parser, run_train)


def _add_evaluate(sub: Any) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="score a language model on text",
        description="Score a language model bundle on text: loss (nats per token), "
        "perplexity, bits per token, and the tokens scored; each document from its start.\n\n"
        + CORPUS_HELP
        + "\n\nA named dataset is scored on its test split (its validation split when it has "
        "no test split) unless --split says otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model bundle folder (rnnkit lm train)")
    parser.add_argument("data", metavar="CORPUS", help="text, folder or dataset")
    parser.add_argument(
        "--split",
        choices=("train", "valid", "test"),
        help="the split of a named dataset to score",
    )
    parser.add_argument(
        "--document",
        choices=("line", "paragraph", "file"),
        help="what one document of a plain text file is (default: as the model was trained; "
        "a named dataset: its own documents)",
    )
    _add_corpus_options(parser)
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    add_device_options(parser)
    parser.set_defaults(run=run_evaluate)


def _add_lr_find(sub: Any) -> None:
    from rnnkit.cli.lr_find import add_range_options

    parser = sub.add_parser(
        "lr-find",
        help="learning-rate range test on a language model",
        description="The learning-rate range test of rnnkit lr-find on a fresh language model "
        "with these options (every option of rnnkit lm train applies, --config too): a few "
        "windows of training while the learning rate grows from --min-lr to --max-lr, the "
        "loss at each, and a suggested --lr.\n\n" + CORPUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", metavar="CORPUS", help="text, folder or dataset")
    parser.add_argument("--config", metavar="FILE", help="JSON object of options")
    add_range_options(parser)
    _add_corpus_options(parser)
    OPTIONS.add_arguments(parser, GROUPS)
    parser.set_defaults(run=run_lr_find, configure=functools.partial(apply_config, parser))


def run_lr_find(args: argparse.Namespace) -> int:
    from rnnkit.cli.lr_find import report
    from rnnkit.plotting import image_path
    from rnnkit.train.lr_find import check_range

    check_range(args.min_lr, args.max_lr, args.steps)
    plot = image_path("--plot", args.plot) if args.plot else None
    lm = model_from(args, quiet=True)
    lm.check_params()
    documents = read_corpus(args, args.data, document=args.document).train
    result = lm.lr_find(documents, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps)
    return report(result, args, plot)


# -- training ----------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> int:
    return run_training(args, prepared, train_and_save)


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


def model_from(
    args: argparse.Namespace, *, quiet: bool, threads: int | None = None
) -> LanguageModel:
    from rnnkit.tasks.language_model.estimator import LanguageModel

    values = vars(args)
    params = {name: values.get(name, default) for name, default in OPTIONS.defaults.items()}
    if threads is not None:
        params["threads"] = threads
    return LanguageModel(**params, verbose=not quiet)


def read_corpus(
    args: argparse.Namespace, source: str, *, document: str | None, valid_split: float = 0.0
) -> DocumentSplits:
    from rnnkit.data.documents import load_documents

    text_col = args.text_col if args.text_col != "text" else None
    return load_documents(
        source,
        document=document,
        data_dir=args.data_dir,
        valid_split=valid_split,
        text_col=text_col,
        encoding=args.encoding,
    )


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


def rounded(scores: dict[str, Any] | None) -> dict[str, Any] | None:
    if scores is None:
        return None
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in scores.items()}


UNIT_WORDS = {"char": "character", "word": "word", "subword": "subword"}


def describe(scores: dict[str, Any]) -> str:
    """``loss 1.4952 nats per character, perplexity 4.46, 2.157 bits per character (111,540
    characters)``."""
    unit = UNIT_WORDS.get(scores["unit"], "token")
    return (
        f"loss {scores['loss']:.4f} nats per {unit}, perplexity {scores['perplexity']:.2f}, "
        f"{scores['bits_per_token']:.3f} bits per {unit} ({scores['tokens']:,} {unit}s)"
    )


# -- evaluation --------------------------------------------------------------------------


def run_evaluate(args: argparse.Namespace) -> int:
    from rnnkit.data.documents import LM_DATASETS
    from rnnkit.tasks.language_model.estimator import LanguageModel

    set_threads(args.threads)
    lm = apply_run_options(LanguageModel.load(args.model, command="rnnkit lm evaluate"), args)
    named = args.data in LM_DATASETS and not Path(args.data.split("#", 1)[0]).exists()
    # a named dataset is read in its own documents; a file as the model was trained
    document = args.document or (None if named else lm.document)
    splits = read_corpus(args, args.data, document=document)
    split = args.split or ("train" if not named else "test" if splits.test else "valid")
    documents = splits.split(split)
    scores = lm.evaluate(documents)
    scores = {**scores, "data": args.data, "split": split if named else None}
    if args.json:
        print_json(rounded(scores))
    else:
        where = f"{args.data} ({split})" if named else args.data
        print(f"{where}: {describe(scores)}")
    return 0

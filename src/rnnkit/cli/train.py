"""``rnnkit train``: train a classifier on a file or a named dataset and write a model bundle."""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import logging
import time
from pathlib import Path
from typing import Any

from rnnkit.bundle import CHECKPOINTS, check_bundle_target
from rnnkit.classifier import TextClassifier
from rnnkit.cli.common import (
    add_data_options,
    check_data,
    is_dataset,
    load_file,
    load_named,
    print_json,
    rounded,
)
from rnnkit.cli.config_file import apply_config
from rnnkit.data.corpus import Corpus
from rnnkit.errors import ConfigError
from rnnkit.files import FolderLock, leftover_hint
from rnnkit.models.config import CELLS
from rnnkit.train import distributed
from rnnkit.train.checkpoint import (
    BEST,
    LAST,
    META,
    CheckpointError,
    CheckpointPolicy,
    read_meta,
    verify_checkpoint,
)
from rnnkit.train.config import MAX_EPOCHS, MIN_EPOCHS, SCHEDULES, STEP_BUDGET
from rnnkit.train.precision import PRECISIONS

DEFAULTS: dict[str, Any] = {
    name: p.default
    for name, p in inspect.signature(TextClassifier.__init__).parameters.items()
    if name != "self"
}

DESCRIPTION = """\
Train a recurrent text classifier and write a model bundle to --out.

Options can also come from --config FILE, a JSON object such as {"hidden": 256, "lr": 0.003}
(the recipes/ folder holds tuned ones); options on the command line override it.

DATA is a labelled file (CSV, TSV, JSON Lines, fastText, "label text" lines, TREC questions),
a folder with one subfolder per class (or such a folder in a .tar.gz: ARCHIVE#FOLDER), or the
name of a dataset (see rnnkit datasets). A dataset brings its own validation and test splits;
for a file, --valid-split of it is held out for validation unless --valid is given.
"""

EXAMPLES = """\
examples:
  rnnkit train sst2 --data-dir ../shared/data --out models/sst2
  rnnkit train reviews.csv --text-col title,body --label-col stars --test test.csv --out m/
  rnnkit train imdb --epochs 3 --json --quiet --out models/imdb
  rnnkit train trec --config recipes/trec.json --seed 1 --out models/trec
"""


def _option(
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
    _option(
        model,
        "--cell",
        "cell",
        "recurrent cell, or bag: the mean of the embeddings, an order-blind baseline",
        choices=CELLS,
    )
    _option(model, "--layers", "layers", "stacked recurrent layers", type=int, metavar="N")
    model.add_argument(
        "--bidirectional",
        dest="bidirectional",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS["bidirectional"],
        help="read each text in both directions (default: yes)",
    )
    _option(
        model,
        "--embed-dim",
        "embed_dim",
        "embedding size",
        shown="the size of --vectors, else 128",
        type=int,
        metavar="N",
    )
    _option(model, "--hidden", "hidden", "hidden size of each direction", type=int, metavar="N")
    _option(
        model,
        "--pooling",
        "pooling",
        "how states become one vector: one or more of last, "
        "mean, max, attention, separated by commas",
        metavar="LIST",
    )
    _option(
        model,
        "--dropout",
        "dropout",
        "dropout on embeddings, between layers and before the output layer",
        type=float,
        metavar="P",
    )
    _option(
        model,
        "--word-dropout",
        "word_dropout",
        "in training, replace this fraction of tokens by the unknown token",
        type=float,
        metavar="P",
    )
    _option(
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
    _option(
        model,
        "--weight-dropout",
        "weight_dropout",
        "DropConnect on the hidden-to-hidden matrices (as in AWD-LSTM)",
        type=float,
        metavar="P",
    )
    _option(
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
    _option(text, "--tokenizer", "tokenizer", "word or char", choices=("word", "char"))
    _option(
        text,
        "--min-freq",
        "min_freq",
        "keep tokens seen at least this often in training",
        type=int,
        metavar="N",
    )
    _option(
        text,
        "--max-vocab",
        "max_vocab",
        "largest vocabulary, counting padding and unknown",
        type=int,
        metavar="N",
    )
    _option(
        text,
        "--max-len",
        "max_len",
        "truncate texts to their first N tokens",
        type=int,
        metavar="N",
    )

    training = parser.add_argument_group("training")
    _option(
        training,
        "--epochs",
        "epochs",
        "passes over the training data; none: enough for "
        f"about {STEP_BUDGET} steps, from {MIN_EPOCHS} to {MAX_EPOCHS} epochs",
        type=int,
        metavar="N",
    )
    _option(
        training,
        "--batch-size",
        "batch_size",
        "texts per batch (bucketed by length)",
        type=int,
        metavar="N",
    )
    _option(training, "--lr", "lr", "peak learning rate of AdamW", type=float, metavar="X")
    _option(
        training, "--weight-decay", "weight_decay", "AdamW weight decay", type=float, metavar="X"
    )
    _option(
        training,
        "--warmup",
        "warmup",
        "fraction of steps warming the learning rate up",
        type=float,
        metavar="F",
    )
    _option(
        training, "--schedule", "schedule", "learning-rate decay after warm-up", choices=SCHEDULES
    )
    _option(
        training,
        "--clip-norm",
        "clip_norm",
        "clip the gradient norm to this (0: off)",
        type=float,
        metavar="X",
    )
    _option(
        training,
        "--patience",
        "patience",
        "stop after N epochs without a better "
        "validation accuracy, keeping the best weights (0: never)",
        type=int,
        metavar="N",
    )
    _option(
        training,
        "--label-smoothing",
        "label_smoothing",
        "label smoothing of the loss",
        type=float,
        metavar="X",
    )
    _option(
        training,
        "--seed",
        "seed",
        "random seed (weights, batches, validation split)",
        type=int,
        metavar="N",
    )
    _option(
        training,
        "--threads",
        "threads",
        "CPU threads for torch",
        shown="all cores",
        type=int,
        metavar="N",
    )

    _option(
        training,
        "--precision",
        "precision",
        "fp32, or bf16: bfloat16 autocast, faster on CPUs with native bf16",
        choices=PRECISIONS,
    )
    _option(
        training,
        "--max-steps",
        "max_steps",
        "stop after this many optimizer steps, for quick checks; the validation and test sets "
        "are still scored in full, and --no-test skips the test set",
        shown="no limit",
        type=int,
        metavar="N",
    )


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="train a classifier and write a model bundle",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "data", metavar="DATA", nargs="?", help="a labelled file or folder, or a dataset name"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder to write the model bundle to: a new or empty folder, or an rnnkit model "
        "folder, which is replaced atomically (anything else is refused before training); "
        "training checkpoints go to DIR/checkpoints",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON object of options for this command, e.g. a recipe; options given on the "
        "command line override it",
    )
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--valid", metavar="PATH", help="validation file (same format options)")
    _option(
        split,
        "--valid-split",
        "valid_split",
        "fraction of DATA held out for validation when there is no --valid (stratified, seeded)",
        type=float,
        metavar="F",
    )
    tests = parser.add_mutually_exclusive_group()
    tests.add_argument(
        "--test", metavar="PATH", help="test file, scored after training (a dataset brings its own)"
    )
    tests.add_argument(
        "--no-test",
        action="store_true",
        help="score no test set after training, not even a dataset's own",
    )
    add_data_options(parser)

    add_model_options(parser)

    output = parser.add_argument_group("output")
    output.add_argument(
        "--json",
        action="store_true",
        help="print the metrics.json object as the last line on stdout",
    )
    output.add_argument("--quiet", action="store_true", help="no progress bar or log lines")

    runs = parser.add_argument_group("checkpoints and data-parallel training")
    runs.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="also write a checkpoint every N optimizer steps (always: after every epoch; "
        "kept: DIR/checkpoints/last and best)",
    )
    runs.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run whose --out was DIR from its last checkpoint (or from the "
        "checkpoint folder given, such as DIR/checkpoints/best), with its data and options; "
        f"only {', '.join('--' + o.replace('_', '-') for o in RESUMABLE)} may be given again",
    )
    runs.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train data-parallel in N processes on this machine (runs torchrun "
        "--standalone --nproc_per_node N); see docs/distributed.md for several machines",
    )
    parser.set_defaults(
        run=run,
        configure=functools.partial(apply_config, parser),
        defaults={action.dest: action.default for action in parser._actions},
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


def run(args: argparse.Namespace) -> int:
    if args.nproc is not None:
        return launch(args)
    start = time.perf_counter()
    world = distributed.init_from_env() if distributed.launched() else distributed.World()
    with contextlib.ExitStack() as stack:
        if world.is_main and args.resume:  # held before its checkpoint is read
            stack.enter_context(FolderLock(run_folder(args.resume), option="--resume"))
        args = prepared(args)
        if not world.is_main:  # rank 0 alone prints and writes
            args.quiet = True
        if args.quiet:  # a resumed run is as quiet as the run it continues
            logging.getLogger("rnnkit").setLevel(logging.WARNING)
        if world.distributed and not args.threads:
            args.threads = distributed.default_threads()
        if world.is_main:  # the output checked and held before any work
            check_out(args)
            stack.enter_context(FolderLock(Path(args.out), option="--out"))
        return train_and_save(args, world, start)


def prepared(args: argparse.Namespace) -> argparse.Namespace:
    """The options of this run (a resumed run's saved ones), every one checked before any
    data is read."""
    saved = resumed(args) if args.resume else None
    if saved is not None:
        args = saved
    elif args.data is None or args.out is None:
        raise ConfigError("DATA and --out are required (or --resume DIR to continue a run)")
    if args.checkpoint_every < 0:
        raise ConfigError(
            f"--checkpoint-every must be zero or positive, got {args.checkpoint_every}"
        )
    classifier_from(args).check_params()
    return args


def check_out(args: argparse.Namespace) -> None:
    """Refuse an --out that cannot become a model folder without losing anything."""
    inputs = [getattr(args, name, None) for name in _PATHS if name != "data_dir"]
    check_bundle_target(args.out, option="--out", inputs=[p for p in inputs if p])


def train_and_save(args: argparse.Namespace, world: distributed.World, start: float) -> int:
    clf = classifier_from(args)
    train, valid, test, classes = load_training_data(args, clf.tokenizer)
    if args.no_test:
        test = None
    policy = CheckpointPolicy(
        Path(args.out) / CHECKPOINTS,
        every=args.checkpoint_every,
        resume=bool(args.resume),
        resume_from=Path(args.resume_from) if getattr(args, "resume_from", None) else None,
        extra={"args": saved_options(args)},
    )
    clf.fit_corpus(train, valid, classes=classes, checkpoints=policy)
    if world.distributed:  # every process leaves the group before any exits
        distributed.shutdown()
    if not world.is_main:
        return 0
    if test is not None:
        logging.getLogger("rnnkit").info("scoring the test set: %s texts", f"{len(test):,}")
    test_report = clf.evaluate_corpus(test) if test is not None else None
    metrics = {
        "data": args.data,
        "valid": rounded(clf.metrics_["valid"]),
        "test": rounded(test_report),
        "train_seconds": round(clf.metrics_["train_seconds"], 3),
        "train_tokens_per_second": round(clf.metrics_["train_tokens_per_second"], 1),
        "epochs_run": clf.metrics_["epochs_run"],
        "best_epoch": clf.metrics_["best_epoch"],
        "seconds_to_first_step": round(clf.history_.first_step_at - start, 3)
        if clf.history_.first_step_at is not None
        else None,
    }
    # --out was checked before training; what appeared in it since is the user's: kept.
    path = clf.save(args.out, metrics, option="--out", keep_others=True)
    for split in ("valid", "test"):
        if metrics[split]:
            scores = metrics[split]
            print(f"{split}: accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}")
    epochs = metrics["epochs_run"]
    print(
        f"trained {epochs} epoch{'' if epochs == 1 else 's'} in {metrics['train_seconds']:.1f} s "
        f"({metrics['train_tokens_per_second']:,.0f} tokens/s); wrote {path}"
    )
    if args.json:
        print_json(metrics)
    return 0


RESUMABLE = ("lr", "threads", "checkpoint_every", "quiet", "json")
_PATHS = ("data", "valid", "test", "vectors", "data_dir", "config")


def saved_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of this run as JSON data for its checkpoints; file paths made absolute so
    that ``--resume`` works from another folder."""
    options: dict[str, Any] = {}
    for name, value in vars(args).items():
        if name in ("run", "configure", "defaults", "resume", "resume_from", "nproc", "argv"):
            continue
        if name in _PATHS and isinstance(value, str) and Path(value.split("#", 1)[0]).exists():
            value = str(Path(value).resolve()) if "#" not in value else value
        options[name] = value
    return options


def resumed(args: argparse.Namespace) -> argparse.Namespace:
    """The saved options of the run in ``args.resume``, with the few that may change.
    ``args.resume`` is the run's --out folder (resume from its last checkpoint) or one of its
    checkpoint folders (DIR/checkpoints/best)."""
    folder = run_folder(args.resume)
    given_path = Path(args.resume)
    source = given_path if (given_path / META).is_file() else folder / CHECKPOINTS / LAST
    given = [
        name
        for name, default in args.defaults.items()
        if name not in ("resume", "help", *RESUMABLE) and getattr(args, name, default) != default
    ]
    if given:
        names = ", ".join("DATA" if n == "data" else "--" + n.replace("_", "-") for n in given)
        raise ConfigError(
            f"--resume continues the run in {folder} with its own data and options; leave out "
            f"{names} (only {', '.join('--' + o.replace('_', '-') for o in RESUMABLE)} may "
            "change)"
        )
    if not (source / META).is_file() and (hint := leftover_hint(folder, f"{CHECKPOINTS}/{LAST}")):
        raise ConfigError(f"{source}: no checkpoint here{hint}")
    try:
        verify_checkpoint(source)
    except CheckpointError as error:
        raise CheckpointError(f"{error}; {_instead(folder, source)}") from None
    options = read_meta(source).get("extra", {}).get("args")
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: not written by rnnkit train")
    options = {
        **options,
        "out": str(folder),
        "resume": str(folder),
        "resume_from": str(source),
        "nproc": None,
    }
    for name in RESUMABLE:
        if getattr(args, name) != args.defaults.get(name):
            options[name] = getattr(args, name)
    return argparse.Namespace(**{**vars(args), **options})


def run_folder(resume: str) -> Path:
    """The --out folder of the run that ``--resume PATH`` continues: PATH itself, or the folder
    above PATH when PATH is its checkpoints folder or one checkpoint in it."""
    path = Path(resume)
    if (path / META).is_file() and path.parent.name == CHECKPOINTS:
        return path.parent.parent
    if path.name == CHECKPOINTS and (path / LAST / META).is_file():
        return path.parent
    return path


def _instead(folder: Path, damaged: Path) -> str:
    """What to run when the checkpoint ``damaged`` of the run in ``folder`` cannot be used."""
    best = folder / CHECKPOINTS / BEST
    if damaged != best and (best / META).is_file():
        try:
            verify_checkpoint(best)
            epoch = read_meta(best)["position"]["epoch"]
        except (CheckpointError, KeyError, TypeError):
            pass
        else:
            return (
                f"continue from the best epoch's checkpoint (after epoch {epoch}) with: "
                f"rnnkit train --resume {best}"
            )
    return "no intact checkpoint is left: start the run again"


def launch(args: argparse.Namespace) -> int:
    """``rnnkit train ... --nproc N``: the same command in N processes under torchrun."""
    import subprocess
    import sys

    if args.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {args.nproc}")
    # Everything the processes would check first, checked here, so that none starts in vain.
    target = run_folder(args.resume) if args.resume else Path(args.out or ".")
    with FolderLock(target, option="--resume" if args.resume else "--out"):
        check_out(prepared(argparse.Namespace(**vars(args))))
    argv, skip = [], False
    for item in args.argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            argv.append(item)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.nproc}",
        "-m",
        "rnnkit",
        *argv,
    ]
    return subprocess.call(command)

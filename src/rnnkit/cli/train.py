"""``rnnkit train``: train a classifier on a file or a named dataset and write a model bundle."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.bundle import CHECKPOINTS, check_bundle_target
from rnnkit.cli.common import add_data_options, print_json, rounded
from rnnkit.cli.config_file import apply_config
from rnnkit.cli.model_options import add_model_options, classifier_from, load_training_data
from rnnkit.cli.resume import RESUMABLE, input_paths, resumed, run_folder, saved_options
from rnnkit.errors import ConfigError
from rnnkit.plural import counted
from rnnkit.tasks.classification.options import OPTIONS

if TYPE_CHECKING:
    from rnnkit.tasks.classification.estimator import TextClassifier
    from rnnkit.tasks.pretraining import Pretraining
    from rnnkit.train.checkpoint import CheckpointPolicy
    from rnnkit.train.distributed import World
from rnnkit.files import FolderLock

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
    add_out_options(parser)
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--valid", metavar="PATH", help="validation file (same format options)")
    OPTIONS.add_argument(split, "valid_split")
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

    pretraining = parser.add_argument_group(
        "pretraining (ULMFiT: language models first, on unlabelled text and DATA's training "
        "texts, then the classifier starts from them)"
    )
    pretraining.add_argument(
        "--pretrain",
        nargs="*",
        metavar="CORPUS",
        help="pretrain on these corpora (text files, folders or ARCHIVE.tar.gz#FOLDER of .txt "
        "files, labelled files' text, or rnnkit lm train's datasets) plus DATA's training "
        "texts, never its validation or test texts; with no CORPUS, on the training texts "
        "alone. A bidirectional classifier gets a forward and a backward model, written to "
        "DIR/lm/ (reuse them with --encoder DIR/lm/forward,DIR/lm/backward). With "
        "--encoder, fine-tune its language models on that text instead (ULMFiT's second "
        "stage), keeping their vocabulary and sizes",
    )
    pretraining.add_argument(
        "--pretrain-config",
        metavar="FILE",
        help="JSON object of rnnkit lm train options for the language models (not their "
        "tokenizer or sizes, which are this classifier's)",
    )
    pretraining.add_argument(
        "--pretrain-minutes",
        type=float,
        metavar="M",
        help="time budget of the pretraining, all language models together",
    )

    add_run_options(parser, run)


def run(args: argparse.Namespace) -> int:
    return run_training(args, prepared, train_and_save)


def add_out_options(parser: argparse.ArgumentParser) -> None:
    """--out and --config, as every training command has them."""
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


def add_run_options(parser: Any, run: Callable[[argparse.Namespace], int]) -> None:
    """The output, checkpoint and data-parallel options every training command has, and its
    defaults: ``run``, --config read into the parser, the declared defaults (for --resume)."""
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
        resume_from=None,  # the checkpoint folder --resume continues (set by resumed())
        run=run,
        configure=functools.partial(apply_config, parser),
        defaults=parser.defaults(),
    )


def run_options(args: argparse.Namespace, data: str = "DATA") -> argparse.Namespace:
    """The options of this run, a resumed run's saved ones, with ``data`` (the positional's
    name) and --out required and --checkpoint-every checked, before any data is read."""
    saved = resumed(args) if args.resume else None
    if saved is not None:
        args = saved
    elif not args.data or args.out is None:
        raise ConfigError(f"{data} and --out are required (or --resume DIR to continue a run)")
    if args.checkpoint_every < 0:
        raise ConfigError(
            f"--checkpoint-every must be zero or positive, got {args.checkpoint_every}"
        )
    return args


Prepare = Callable[[argparse.Namespace], argparse.Namespace]
TrainAndSave = Callable[..., int]


def run_training(args: argparse.Namespace, prepare: Prepare, train: TrainAndSave) -> int:
    """What ``rnnkit train`` and ``rnnkit lm train`` share around their training: torchrun for
    --nproc, the process group, the locks on --resume and --out, the options ``prepare``
    checks before any data is read, quiet processes other than rank 0, then ``train``."""
    from rnnkit.train import distributed

    if args.nproc is not None:
        return launch(args, prepare)
    start = time.perf_counter()
    world = (
        distributed.init_from_env(getattr(args, "device", "auto"))
        if distributed.launched()
        else distributed.World()
    )
    with contextlib.ExitStack() as stack:
        if world.is_main and args.resume:  # held before its checkpoint is read
            stack.enter_context(FolderLock(run_folder(args.resume), option="--resume"))
        args = prepare(args)
        # rank 0 alone prints and writes; a resumed run is as quiet as the run it continues
        quiet = args.quiet or not world.is_main
        if quiet:
            logging.getLogger("rnnkit").setLevel(logging.WARNING)
        threads = args.threads
        if world.distributed and not threads:
            threads = distributed.default_threads()
        if world.is_main:  # the output checked and held before any work
            check_out(args)
            stack.enter_context(FolderLock(Path(args.out), option="--out"))
        return train(args, world, start, quiet=quiet, threads=threads)


def prepared(args: argparse.Namespace) -> argparse.Namespace:
    """The options of this run (a resumed run's saved ones), every one checked before any
    data is read."""
    from rnnkit.tasks.pretraining import check_minutes

    args = run_options(args)
    classifier_from(args, quiet=True).check_params()
    check_minutes(args.pretrain_minutes)
    return args


def check_out(args: argparse.Namespace) -> None:
    """Refuse an --out that cannot become a model folder without losing anything: among
    others, one that holds a file or folder the run reads (DATA, --encoder, --pretrain, ...)."""
    check_bundle_target(args.out, option="--out", inputs=input_paths(args))


def train_and_save(
    args: argparse.Namespace, world: World, start: float, *, quiet: bool, threads: int | None
) -> int:
    from rnnkit.tasks.pretraining import encoders
    from rnnkit.train import distributed
    from rnnkit.validation import natural_sorted

    clf = classifier_from(args, quiet=quiet, threads=threads)
    train, valid, test, classes = load_training_data(
        args, clf.tokenizer, valid=args.valid, test=args.test, quiet=quiet
    )
    if args.no_test:
        test = None
    if classes is None:  # the training file's, before its validation texts are held out
        classes = natural_sorted(set(train.labels))
    train, valid = clf.split(train, valid)
    pretrained = encoders(clf, train, pretraining_of(args, clf))
    checkpoints = checkpoint_policy(args)
    clf.fit_corpus(
        train, valid, classes=classes, checkpoints=checkpoints, pretrained=pretrained, split=False
    )
    if world.distributed:  # every process leaves the group before any exits
        distributed.shutdown()
    if not world.is_main:
        return 0
    if test is not None:
        logging.getLogger("rnnkit").info("scoring the test set: %s", counted(len(test), "text"))
    test_report = clf.evaluate_corpus(test) if test is not None else None
    metrics = {
        "data": args.data,
        "valid": rounded(clf.metrics_["valid"]),
        "test": rounded(test_report),
        **run_metrics(clf, start),
    }
    # --out was checked before training; what appeared in it since is the user's: kept.
    path = clf.save(args.out, metrics, option="--out", keep_others=True)
    for split in ("valid", "test"):
        if metrics[split]:
            scores = metrics[split]
            print(f"{split}: accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}")
    print_trained(metrics, path, as_json=args.json)
    return 0


def pretraining_of(args: argparse.Namespace, clf: TextClassifier) -> Pretraining | None:
    """What --pretrain asks for: its corpora read, its options, and where each language model
    goes as soon as it is trained (--out's lm/ folder); a resumed run whose models were
    written starts ``clf`` from them instead."""
    if args.pretrain is None:
        return None
    from rnnkit.bundle import CONFIG, PRETRAINED
    from rnnkit.tasks.pretraining import DIRECTIONS

    done = Path(args.out) / PRETRAINED
    wanted = [done / name for name in DIRECTIONS[: 2 if clf.bidirectional else 1]]
    if args.resume and all((path / CONFIG).is_file() for path in wanted):
        clf.set_params(encoder=",".join(map(str, wanted)))  # trained before the interruption
        return None
    from rnnkit.data.documents import load_documents
    from rnnkit.options import option_name, read_config
    from rnnkit.tasks.pretraining import Pretraining

    log = logging.getLogger("rnnkit")
    options = None
    if args.pretrain_config:
        options = {
            option_name(k): v
            for k, v in read_config(args.pretrain_config, "--pretrain-config").items()
        }
    documents: list[str] = []
    for corpus in args.pretrain:
        documents += load_documents(corpus, data_dir=args.data_dir, encoding=args.encoding).train
        log.info(
            "pretraining corpus %s: %s in all so far", corpus, counted(len(documents), "document")
        )

    def saved(lm: Any, name: str) -> str:
        path = lm.save(Path(args.out) / PRETRAINED / name, option="--out")
        log.info("wrote the %s language model to %s", name, path)
        return str(path)

    return Pretraining(documents, options, args.pretrain_minutes, saved)


def checkpoint_policy(args: argparse.Namespace) -> CheckpointPolicy:
    """Where and how often a training command writes checkpoints, and what it resumes."""
    from rnnkit.train.checkpoint import CheckpointPolicy

    return CheckpointPolicy(
        Path(args.out) / CHECKPOINTS,
        every=args.checkpoint_every,
        resume=bool(args.resume),
        resume_from=Path(args.resume_from) if args.resume_from else None,
        extra={"args": saved_options(args)},
    )


def run_metrics(estimator: Any, start: float) -> dict[str, Any]:
    """The training run's figures in metrics.json: time, speed, epochs, optimizer steps, time
    to first step, and the batches of the last epoch when --max-steps or --max-minutes cut
    it short."""
    done, history = estimator.metrics_, estimator.history_
    first = history.first_step_at
    last = history.epochs[-1].get("batches") if history.epochs else None
    return {
        "train_seconds": round(done["train_seconds"], 3),
        "train_tokens_per_second": round(done["train_tokens_per_second"], 1),
        "epochs_run": done["epochs_run"],
        "best_epoch": done["best_epoch"],
        "steps": history.steps,
        "seconds_to_first_step": round(first - start, 3) if first is not None else None,
        **({"last_epoch_batches": last} if last and last[0] < last[1] else {}),
    }


def print_trained(metrics: dict[str, Any], path: Path, *, as_json: bool) -> None:
    """The line that ends a training command, then the metrics as JSON if asked."""
    epochs = metrics["epochs_run"]
    done = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    if "last_epoch_batches" in metrics:  # cut short: say how far it went
        batches, total = metrics["last_epoch_batches"]
        whole = f"{epochs - 1} epoch{'' if epochs == 2 else 's'} and " if epochs > 1 else ""
        done = f"{whole}{batches:,} of the {total:,} batches of epoch {epochs}"
    print(
        f"trained {done} in {metrics['train_seconds']:.1f} s "
        f"({metrics['train_tokens_per_second']:,.0f} tokens/s); wrote {path}"
    )
    if as_json:
        print_json(metrics)


def launch(args: argparse.Namespace, prepare: Prepare | None = None) -> int:
    """``rnnkit train ... --nproc N`` (or ``rnnkit lm train``, whose options ``prepare``
    checks): the same command in N processes under torchrun."""
    import subprocess
    import sys

    if args.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {args.nproc}")
    # Everything the processes would check first, checked here, so that none starts in vain.
    target = run_folder(args.resume) if args.resume else Path(args.out or ".")
    with FolderLock(target, option="--resume" if args.resume else "--out"):
        check_out((prepare or prepared)(argparse.Namespace(**vars(args))))
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

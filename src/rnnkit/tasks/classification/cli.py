"""The classifier's command line, described once (``COMMANDS``): ``rnnkit classify train``,
``evaluate``, ``lr-find`` and ``predict``, each also given at the top level (``rnnkit train``,
...); the commands that use a model are in :mod:`rnnkit.tasks.classification.cli_model`. The
training command's shared skeleton is :mod:`rnnkit.cli.tasks`'s."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.runs import (
    checkpoint_policy,
    estimator_from,
    print_trained,
    run_metrics,
    run_options,
)
from rnnkit.cli.tasks import Data, RangeTest, TaskCommands, Train
from rnnkit.plural import counted
from rnnkit.tasks.classification import cli_model
from rnnkit.tasks.classification.cli_model import (
    add_data_options,
    check_data,
    is_dataset,
    load_file,
    load_named,
    rounded,
)
from rnnkit.tasks.classification.options import GROUPS, OPTIONS

if TYPE_CHECKING:
    from rnnkit.data.corpus import Corpus
    from rnnkit.tasks.classification.estimator import TextClassifier
    from rnnkit.tasks.pretraining import Pretraining
    from rnnkit.train.distributed import World

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


def classifier_from(
    args: argparse.Namespace, *, quiet: bool, threads: int | None = None
) -> TextClassifier:
    """The estimator the options in ``args`` describe."""
    from rnnkit.tasks.classification.estimator import TextClassifier

    return estimator_from(TextClassifier, args, quiet=quiet, threads=threads)  # type: ignore[no-any-return]


def add_pretraining(parser: argparse.ArgumentParser) -> None:
    """The pretraining options (ULMFiT) of the training command."""
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


def prepared(args: argparse.Namespace) -> argparse.Namespace:
    """The options of this run (a resumed run's saved ones), every one checked before any
    data is read."""
    from rnnkit.tasks.pretraining import check_minutes

    args = run_options(args)
    classifier_from(args, quiet=True).check_params()
    check_minutes(args.pretrain_minutes)
    return args


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


LR_FIND_DESCRIPTION = """\
Train a fresh model for a few steps while the learning rate grows geometrically from --min-lr
to --max-lr, and print the training loss at each. The loss falls once the rate is large enough
and rises once it is too large. The edge is the last rate before the smoothed loss first rises
(by 5% of its starting value) above its lowest; the suggested --lr is a fifth of the edge, which
on SST-2, TREC, MR and SST-5 brackets the tuned default. Every model and training option of
rnnkit train applies (--config too), so the test runs the model you mean to train. Nothing is
written unless --plot is given. For a language model: rnnkit lm lr-find CORPUS.
"""

LR_FIND_EXAMPLES = """\
examples:
  rnnkit lr-find sst2 --data-dir ../shared/data --plot lr.png
  rnnkit lr-find reviews.csv --hidden 256 --batch-size 32 --steps 200
"""


def range_test_data(args: argparse.Namespace) -> tuple[TextClassifier, tuple[Corpus]]:
    """``rnnkit lr-find``'s fresh classifier and training data."""
    clf = classifier_from(args, quiet=args.quiet)
    clf.check_params()
    clf.verbose = False
    train, _, _, _ = load_training_data(args, clf.tokenizer, quiet=args.quiet)
    return clf, (train,)


COMMANDS = TaskCommands(
    "classify",
    help="train, evaluate and use text classifiers (also at the top level: rnnkit train, ...)",
    description="Text classifiers: rnnkit classify train, evaluate, lr-find and predict; each "
    "is also rnnkit train, rnnkit evaluate, rnnkit lr-find and rnnkit predict.",
    options=OPTIONS,
    data=Data(
        "DATA",
        "a labelled file or folder, or a dataset name",
        add_data_options,
        valid_help="validation file (same format options)",
        test_help="test file, scored after training (a dataset brings its own)",
        no_test_help="score no test set after training, not even a dataset's own",
    ),
    train=Train(
        "train a classifier and write a model bundle",
        DESCRIPTION,
        EXAMPLES,
        GROUPS,
        prepared,
        train_and_save,
        extra=add_pretraining,
    ),
    evaluate=cli_model.EVALUATE,
    lr_find=RangeTest(
        "learning-rate range test: loss against learning rate",
        LR_FIND_DESCRIPTION,
        range_test_data,
        epilog=LR_FIND_EXAMPLES,
    ),
    verb="predict",
    use=cli_model.PREDICT,
    top_level=("train", "lr-find", "evaluate", "predict"),
)

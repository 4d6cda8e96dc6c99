"""``rnnkit lr-find``: the learning-rate range test on a data set, to choose ``--lr``."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_data_options, print_json
from rnnkit.cli.config_file import apply_config
from rnnkit.cli.model_options import add_model_options, classifier_from, load_training_data
from rnnkit.plotting import image_path

if TYPE_CHECKING:
    from rnnkit.train.lr_find import RangeTest

DESCRIPTION = """\
Train a fresh model for a few steps while the learning rate grows geometrically from --min-lr
to --max-lr, and print the training loss at each. The loss falls once the rate is large enough
and rises once it is too large. The edge is the last rate before the smoothed loss first rises
(by 5% of its starting value) above its lowest; the suggested --lr is a fifth of the edge, which
on SST-2, TREC, MR and SST-5 brackets the tuned default. Every model and training option of
rnnkit train applies (--config too), so the test runs the model you mean to train. Nothing is
written unless --plot is given. For a language model: rnnkit lm lr-find CORPUS.
"""

EXAMPLES = """\
examples:
  rnnkit lr-find sst2 --data-dir ../shared/data --plot lr.png
  rnnkit lr-find reviews.csv --hidden 256 --batch-size 32 --steps 200
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "lr-find",
        help="learning-rate range test: loss against learning rate",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", help="a labelled file or folder, or a dataset name")
    parser.add_argument(
        "--config", metavar="FILE", help="JSON object of options (as for rnnkit train)"
    )
    add_range_options(parser)
    add_data_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=run, configure=functools.partial(apply_config, parser))


def add_range_options(parser: argparse.ArgumentParser) -> None:
    """The range test's own options and its output, shared with ``rnnkit lm lr-find``."""
    test = parser.add_argument_group("range test")
    test.add_argument(
        "--min-lr", type=float, default=1e-5, metavar="X", help="first rate (default: 1e-05)"
    )
    test.add_argument(
        "--max-lr", type=float, default=1.0, metavar="X", help="last rate (default: 1.0)"
    )
    test.add_argument(
        "--steps", type=int, default=100, metavar="N", help="training steps (default: 100)"
    )
    test.add_argument(
        "--plot",
        metavar="FILE",
        help="draw loss against learning rate to this image file (.png added when FILE has no "
        "image suffix)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--json",
        action="store_true",
        help="print the rates, losses and suggestion as a JSON object as the last line",
    )
    output.add_argument("--quiet", action="store_true", help="no log lines")


def run(args: argparse.Namespace) -> int:
    from rnnkit.train.lr_find import check_range

    check_range(args.min_lr, args.max_lr, args.steps)
    plot = image_path("--plot", args.plot) if args.plot else None
    clf = classifier_from(args, quiet=args.quiet)
    clf.check_params()
    clf.verbose = False
    train, _, _, _ = load_training_data(args, clf.tokenizer, quiet=args.quiet)
    result = clf.lr_find(train, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps)
    return report(result, args, plot)


def report(result: RangeTest, args: argparse.Namespace, plot: Path | None) -> int:
    """Print the range test's losses and suggestion (and plot, and JSON) as ``args`` asks."""
    from rnnkit.train.lr_find import describe, plot_range_test

    for line in describe(result, every=max(1, len(result.lrs) // 20)):
        print(line)
    if result.rose_at_once:
        ending = "the loss rose from the first rates on: lower --min-lr to see where it falls"
    elif result.diverged:
        ending = "the smoothed loss passed twice its lowest there"
    elif result.rose:
        ending = "the loss rose but did not pass twice its lowest"
    else:
        ending = "the loss never rose: a larger --max-lr may find the edge"
    print(
        f"{len(result.lrs)} steps, {ending}; lowest smoothed loss at {result.best_lr:.3g}; "
        f"edge {result.edge_lr:.3g}; suggested --lr {result.suggested_lr:.3g}"
    )
    if plot is not None:
        plot_range_test(result, str(plot))
        print(f"wrote {plot}")
    if args.json:
        print_json(
            {
                "lr": result.lrs,
                "loss": result.losses,
                "smoothed_loss": result.smoothed,
                "diverged": result.diverged,
                "edge_lr": result.edge_lr,
                "suggested_lr": result.suggested_lr,
            }
        )
    return 0

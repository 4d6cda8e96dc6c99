"""What every task's learning-rate range test shares: its options and its report (the loss at
each rate, the suggested --lr, the plot and the JSON)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_output_options, print_json

if TYPE_CHECKING:
    from rnnkit.train.lr_find import RangeTest


def add_range_options(parser: argparse.ArgumentParser) -> None:
    """The range test's own options and its output, every task's ``lr-find`` has them."""
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
    add_output_options(parser, "the rates, losses and suggestion as a JSON object", "log lines")


def run_range_test(
    args: argparse.Namespace, read: Callable[[argparse.Namespace], tuple[Any, tuple[Any, ...]]]
) -> int:
    """``lr-find``: the range checked, then the estimator and data ``read`` gives, tested."""
    from rnnkit.plotting import image_path
    from rnnkit.train.lr_find import check_range

    check_range(args.min_lr, args.max_lr, args.steps)
    plot = image_path("--plot", args.plot) if args.plot else None
    estimator, data = read(args)
    result = estimator.lr_find(*data, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps)
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

"""``rnnkit demo``: why word order matters, why plain RNNs forget, and what gates fix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rnnkit.cli.common import add_device_options, print_json, set_threads
from rnnkit.files import check_target

DESCRIPTION = """\
Train, on generated data and without a network:

  negation     an order-blind model (bag: mean of embeddings), a simple RNN, an LSTM and a GRU
               on sentences whose label depends on where "not" stands;
  adding-T     the adding problem at a short and a long T: a simple RNN, an LSTM and a GRU
               must remember two marked values across T steps.

Prints a table (task, model, score, solved, seconds) and writes two plots to --out
(rnnkit-demo in the current folder unless told otherwise): the learning curves, and the
gradient of the loss with respect to each step's hidden state for the RNN and the LSTM on the
long adding problem (the vanishing-gradient picture).
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="offline demonstration: word order, vanishing gradients, gates",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller data and a shorter long T")
    parser.add_argument(
        "--out",
        default="rnnkit-demo",
        metavar="DIR",
        help="folder for the two plots, created if needed; files of the same names in it are "
        "replaced (default: rnnkit-demo in the current folder)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    add_device_options(parser, precision=False)
    parser.add_argument("--no-plots", action="store_true", help="print the table only")
    parser.add_argument(
        "--json", action="store_true", help="print the table as one JSON object as the last line"
    )
    parser.add_argument("--quiet", action="store_true", help="no log lines")
    parser.set_defaults(run=run)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'task':<12} {'model':<6} {'metric':<8} {'score':>8}  {'solved':<7} {'seconds':>7}")
    for row in rows:
        print(
            f"{row['task']:<12} {row['model']:<6} {row['metric']:<8} {row['score']:>8.4f}  "
            f"{'yes' if row['solved'] else 'no':<7} {row['seconds']:>7.1f}"
        )


def run(args: argparse.Namespace) -> int:
    from rnnkit.synthetic.demo import DemoConfig, as_json, gradient_ratios, run_demo

    set_threads(args.threads)
    config = (
        DemoConfig.quick(args.seed, args.device)
        if args.quick
        else DemoConfig(seed=args.seed, device=args.device)
    )
    out = None if args.no_plots else Path(args.out).absolute()
    if out is not None:  # checked before the minutes of training
        for name in ("learning_curves.png", "gradients.png"):
            check_target(out / name, option="--out", folder=False)
        print(f"rnnkit: the plots go to {out}", file=sys.stderr)
    result = run_demo(config, out)
    print_table(result.table())
    ratios = gradient_ratios(result)
    print(
        f"gradient reaching step 1 of adding-{config.long}, relative to step {config.long}: "
        + ", ".join(f"{cell} {ratio:.2g}" for cell, ratio in ratios.items())
    )
    for plot in result.plots:
        print(f"wrote {plot}")
    if args.json:
        print_json(as_json(result))
    return 0

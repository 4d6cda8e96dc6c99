"""``rnnkit lab``: one synthetic task, one model, any settings; the demo's measurements."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rnnkit.cli.common import add_device_options, print_json, set_threads
from rnnkit.cli.demo import print_table
from rnnkit.errors import ConfigError

TASKS = ("negation", "adding", "copy", "parity", "generate")

DESCRIPTION = """\
Train one model on one generated task and report its test score, whether it solved the task,
the time taken and the learning curve; for the sequence tasks also how much of the loss's
gradient reaches the first step (||dL/dh_1|| over ||dL/dh_T||).

  negation   sentences whose label depends on where "not" stands (--cell bag, rnn, lstm, gru)
  adding     sum of two marked values in T steps; solved at test MSE < 0.01 (baseline 0.167)
  copy       recall 10 symbols after T blanks; solved at 99% recall accuracy
  parity     XOR of T bits; solved at 99% accuracy
  generate   a character language model trained for --minutes, then samples at temperatures
             0, 0.5, 1 and 1.5 beside their loss per character under the model and how varied
             they are: temperature trades sense for variety (Tiny Shakespeare from --data-dir,
             else the standard library's docstrings)
"""

EXAMPLES = """\
examples:
  rnnkit lab adding --cell rnn --length 100
  rnnkit lab adding --cell lstm --length 200 --hidden 128 --steps 4000 --plot lab/
  rnnkit lab negation --cell bag
  rnnkit lab generate --data-dir ../shared/data --minutes 1
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "lab",
        help="train one model on one generated sequence task",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("task", choices=TASKS, metavar="TASK", help=", ".join(TASKS))
    parser.add_argument("--cell", default="lstm", help="rnn, lstm, gru (negation also: bag)")
    parser.add_argument(
        "--length", type=int, default=100, metavar="T", help="sequence length (default: 100)"
    )
    parser.add_argument("--hidden", type=int, default=64, metavar="N", help="(default: 64)")
    parser.add_argument("--steps", type=int, default=2500, metavar="N", help="(default: 2500)")
    parser.add_argument("--lr", type=float, default=1e-2, metavar="X", help="Adam (default: 0.01)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N", help="(default: 64)")
    parser.add_argument(
        "--train-size", type=int, default=10_000, metavar="N", help="(default: 10000)"
    )
    parser.add_argument("--test-size", type=int, default=1000, metavar="N", help="(default: 1000)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="(default: 0)")
    add_device_options(parser, precision=False)
    parser.add_argument("--plot", metavar="DIR", help="write the learning curve (PNG) here")
    text = parser.add_argument_group("generate")
    text.add_argument(
        "--minutes", type=float, default=1.0, metavar="M", help="training time (default: 1)"
    )
    text.add_argument(
        "--data-dir", metavar="DIR", help="folder holding tinyshakespeare/ (or $RNNKIT_DATA_DIR)"
    )
    text.add_argument("--prompt", default="\n", metavar="TEXT", help="(default: a line break)")
    text.add_argument(
        "--max-tokens", type=int, default=300, metavar="N", help="characters per sample"
    )
    parser.add_argument("--json", action="store_true", help="the result as JSON, last line")
    parser.add_argument("--quiet", action="store_true", help="no log lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.task == "generate":
        return run_generate(args)
    from rnnkit.synthetic import adding, copy_memory, parity
    from rnnkit.synthetic.demo import DemoConfig, negation_runs, plot_learning_curves
    from rnnkit.synthetic.lab import hidden_gradient_norms, train_task

    _check(args)
    set_threads(args.threads)
    extra: dict[str, Any] = {}
    if args.task == "negation":
        config = DemoConfig(
            negation_train=args.train_size - args.train_size % 2,
            negation_test=args.test_size - args.test_size % 2,
            seed=args.seed,
            device=args.device,
        )
        runs = negation_runs(config, cells=(args.cell,))
    else:
        make = {"adding": adding, "copy": copy_memory, "parity": parity}[args.task]
        train = make(args.train_size, args.length, seed=args.seed)
        test = make(args.test_size, args.length, seed=args.seed + 1)
        lab_run, model = train_task(
            train,
            test,
            cell=args.cell,
            hidden_size=args.hidden,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
        )
        runs = [lab_run]
        norms = hidden_gradient_norms(model, make(64, args.length, seed=args.seed + 2))
        extra["gradient_first_over_last"] = float(norms[0] / norms[-1])
    rows = [run.row() for run in runs]
    print_table(rows)
    if "gradient_first_over_last" in extra:
        print(f"||dL/dh_1|| / ||dL/dh_T|| = {extra['gradient_first_over_last']:.3g}")
    plots = []
    if args.plot:
        Path(args.plot).mkdir(parents=True, exist_ok=True)
        plots.append(str(plot_learning_curves(runs, Path(args.plot) / "learning_curve.png")))
        print(f"wrote {plots[0]}")
    if args.json:
        print_json({"results": rows, "plots": plots, **extra, "curve": runs[0].curve})
    return 0


def _check(args: argparse.Namespace) -> None:
    """ConfigError naming the first option out of its range."""
    for option, value in (
        ("--length", args.length),
        ("--hidden", args.hidden),
        ("--steps", args.steps),
        ("--batch-size", args.batch_size),
    ):
        if value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    for option, value in (("--train-size", args.train_size), ("--test-size", args.test_size)):
        if value < 2:
            raise ConfigError(f"{option} must be at least 2, got {value}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError(f"--lr must be positive, got {args.lr}")
    if not 0 <= args.seed < 2**32:  # a training seed, as rnnkit train's
        raise ConfigError(f"--seed must be in [0, 2**32), got {args.seed}")


def run_generate(args: argparse.Namespace) -> int:
    from rnnkit.synthetic.temperature import lesson_text, run_lesson

    if not (math.isfinite(args.minutes) and args.minutes > 0):
        raise ConfigError(f"--minutes must be positive, got {args.minutes}")
    if args.max_tokens < 1:
        raise ConfigError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    set_threads(args.threads)
    text, source = lesson_text(args.data_dir)
    if not args.quiet:
        print(f"training a character model for {args.minutes:g} min on {source}", flush=True)
    samples, metrics = run_lesson(
        text,
        minutes=args.minutes,
        prompt=args.prompt,
        max_tokens=args.max_tokens,
        seed=args.seed,
        verbose=not args.quiet,
        device=args.device,
    )
    valid = metrics["valid"]
    print(
        f"validation loss {valid['loss']:.3f} nats per character after "
        f"{metrics['train_seconds']:.0f} s of training\n"
    )
    for sample in samples:
        print(
            f"--- temperature {sample.temperature:g}: loss {sample.loss:.3f} nats per "
            f"character under the model, {sample.distinct_4grams:.0%} of 4-grams distinct"
        )
        print(args.prompt + sample.text + "\n")
    print(
        "Colder samples are likelier under the model (lower loss) and repeat themselves; "
        "hotter ones vary more and make less sense."
    )
    if args.json:
        print_json({"source": source, "valid": valid, "samples": [s.row() for s in samples]})
    return 0

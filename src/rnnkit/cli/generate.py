"""``rnnkit generate``: text from a language model, written as it is generated."""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any

from rnnkit.cli.common import (
    add_device_options,
    apply_run_options,
    print_json,
    set_threads,
    warn_not_applied,
)

DESCRIPTION = """\
Generate text with a language model bundle (rnnkit lm train --out), token by token: each
token is written to standard output as soon as it is drawn. The prompt is read from the start
of a document and written first.

Each next token is drawn from the model's distribution divided by --temperature (0: always the
most likely token; below 1: safer, above 1: more varied), kept to the --top-k most likely
tokens and to the smallest set whose probability reaches --top-p. A seed makes the text
reproducible; without one a seed is drawn and --json reports it. Sample i of --num-samples
uses seed + i, so one sample of a run can be reproduced alone."""

EXAMPLES = """\
examples:
  rnnkit generate models/shakespeare --prompt "ROMEO:" --temperature 0.8 --seed 1
  rnnkit generate models/ptb --prompt "the company said" --max-tokens 40 --top-p 0.9
  rnnkit generate models/shakespeare --num-samples 3 --stop $'\\n\\n' --json
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "generate",
        help="generate text with a language model",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="language model bundle folder")
    parser.add_argument("--prompt", default="", metavar="TEXT", help="text to continue")
    parser.add_argument(
        "--max-tokens", type=int, default=200, metavar="N", help="tokens per sample (default 200)"
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0, metavar="T", help="0: greedy (default 1.0)"
    )
    parser.add_argument("--top-k", type=int, metavar="K", help="draw from the K most likely")
    parser.add_argument(
        "--top-p", type=float, metavar="P", help="draw from the most likely tokens up to mass P"
    )
    parser.add_argument(
        "--num-samples", type=int, default=1, metavar="N", help="samples (default 1)"
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (default: drawn)")
    parser.add_argument(
        "--stop", metavar="TEXT", help="end a sample once its text contains TEXT (kept)"
    )
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="torch, or onnx: ONNX Runtime on MODEL/model.onnx (rnnkit export MODEL first)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per sample (prompt, text, tokens, seed) instead of the text",
    )
    add_device_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.tasks.language_model.estimator import LanguageModel
    from rnnkit.tasks.language_model.generation import Sampling, check_prompt, check_request

    check_request(  # every option checked before the model is loaded
        max_tokens=args.max_tokens, seed=args.seed, samples=args.num_samples, stop=args.stop
    )
    check_prompt(args.prompt)
    sampling = Sampling(args.temperature, args.top_k, args.top_p)
    warn_not_applied(args)
    set_threads(args.threads)
    lm = apply_run_options(LanguageModel.load(args.model, command="rnnkit generate"), args)
    lm.check_generates()
    if args.backend == "onnx":
        lm.start("", backend="onnx")  # a missing or stale ONNX file fails here, before output
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    out = sys.stdout
    for sample in range(args.num_samples):
        if not args.json:
            if sample:
                out.write("\n\n")
            out.write(args.prompt)
            out.flush()
        text, count = "", 0
        for (piece,) in lm.stream(
            args.prompt,
            max_tokens=args.max_tokens,
            sampling=sampling,
            seed=seed + sample,
            stop=args.stop,
            backend=args.backend,
        ):
            count += 1
            text += piece
            if not args.json and piece:
                out.write(piece)
                out.flush()
        if args.json:
            print_json(
                {"prompt": args.prompt, "text": text, "tokens": count, "seed": seed + sample}
            )
    if not args.json:
        out.write("\n")
    return 0

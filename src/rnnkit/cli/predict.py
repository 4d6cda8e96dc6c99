"""``rnnkit predict``: label texts with a model bundle, one JSON object per text."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rnnkit.cli.common import (
    add_device_options,
    chunks,
    input_texts,
    load_model,
    print_json,
    warn_not_applied,
)
from rnnkit.errors import ConfigError, PredictionError

NON_FINITE = "the model gave NaN or infinite outputs for this text"
CHUNK = 4096  # texts predicted together, so a long input streams in bounded memory


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="label texts, one JSON object per text",
        description="Label texts with a model bundle. Prints one JSON object per text: "
        '{"label": ..., "score": ..., "probs": {label: probability, ...}}, in input '
        'order; an empty line gives {"error": "empty text"}. Texts come from the '
        "command line, from --input FILE (one per line), or from standard input.",
    )
    parser.add_argument("model", metavar="MODEL", help="model bundle folder (rnnkit train --out)")
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="texts to label")
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="file with one text per line ('-' for standard input), read as it comes; a line "
        "holds at most 1,000,000 characters",
    )
    parser.add_argument("--encoding", default="utf-8", help="encoding of --input (default: utf-8)")
    parser.add_argument(
        "--top-k",
        type=int,
        metavar="K",
        help="list only the K most likely labels in probs (default: all)",
    )
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="torch, or onnx: ONNX Runtime on the graph written by rnnkit export (default: torch)",
    )
    parser.add_argument(
        "--onnx",
        metavar="FILE",
        help="ONNX file for --backend onnx (default: MODEL/model.onnx)",
    )
    add_device_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
    warn_not_applied(args)
    clf: Any = load_model(args)
    if args.backend == "onnx":
        from rnnkit.tasks.classification.export import default_path
        from rnnkit.tasks.classification.runtime import OnnxPredictor

        clf = OnnxPredictor(
            clf, args.onnx or default_path(args.model, None), threads=args.threads or 0
        )
    elif args.onnx:
        raise ConfigError("--onnx FILE goes with --backend onnx")
    labels = clf.classes_.tolist()
    failed = total = 0
    for chunk in chunks(input_texts(args.texts, args.input, args.encoding), CHUNK):
        texts = [text for text in chunk if text.strip()]
        probabilities = iter(clf.predict_proba(texts, check_finite=False) if texts else [])
        for text in chunk:
            total += 1
            if not text.strip():
                print_json({"error": "empty text"})
                continue
            probs = next(probabilities)
            if not np.isfinite(probs).all():
                failed += 1
                print_json({"error": NON_FINITE})
                continue
            order = probs.argsort()[::-1][: args.top_k]
            print_json(
                {
                    "label": labels[order[0]],
                    "score": round(float(probs[order[0]]), 6),
                    "probs": {str(labels[i]): round(float(probs[i]), 6) for i in order},
                }
            )
        sys.stdout.flush()
    if failed:
        raise PredictionError(
            f"{args.model}: the model gave NaN or infinite outputs for {failed} of {total} texts "
            "(their lines say so): its weights are damaged or its training diverged; retrain it",
            [],
        )
    return 0

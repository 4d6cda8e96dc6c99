"""``rnnkit export``: write a model bundle as an ONNX graph: a classifier's (optionally with
int8 weights), a language model's step, or a translator's encoder and decoder step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.tasks.classification import ONNX_FILES as CLASSIFIER_FILES
from rnnkit.tasks.translation import ONNX_FILES as TRANSLATOR_FILES

DEFAULT_NAME, INT8_NAME = CLASSIFIER_FILES


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "export",
        help="write a model as ONNX (for ONNX Runtime and other runtimes)",
        description="Write a model bundle's network as an ONNX graph with dynamic batch and "
        "time axes. A classifier's inputs: tokens (batch, time) int64 word ids padded with 0, "
        "lengths (batch,) int64; outputs: probs and logits (batch, classes). Each sequence "
        "stops at its own length, exactly as in PyTorch. A language model's graph is one step "
        "of generation: inputs tokens (batch,) int64 and the state h (layers, batch, hidden), "
        "and c for an LSTM; outputs scores (batch, vocabulary: logits, or log-probabilities "
        "for the adaptive softmax) and the next state h_n (and c_n), the state reset where "
        "the token is <eod>. A translator's are two graphs, encoder.onnx (source (time, "
        "batch) int64 and lengths in; the memory values, keys and mask and the decoder's "
        "first state out) and decoder.onnx (one step: tokens, the state and the memory in; "
        "log_probs (batch, vocabulary), the next state and the attention weights out), "
        "checked against PyTorch before they are written. The tokenizer and vocabulary stay "
        "in the bundle: rnnkit predict MODEL --backend onnx uses both (rnnkit generate and "
        "rnnkit translate likewise). Needs the onnx extra: pip install 'rnnkit[onnx]'.",
    )
    parser.add_argument("model", metavar="MODEL", help="model bundle folder (rnnkit train --out)")
    parser.add_argument(
        "--format", choices=("onnx",), default="onnx", help="export format (default: onnx)"
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="file to write; an existing one is replaced (atomically) only if it is an earlier "
        f"export (default: MODEL/{DEFAULT_NAME}, or MODEL/{INT8_NAME} with --quantize int8); "
        f"for a translator the folder to write {' and '.join(TRANSLATOR_FILES)} into "
        "(default: MODEL)",
    )
    parser.add_argument(
        "--quantize",
        choices=("int8",),
        help="int8 dynamic quantization of a classifier's LSTM and linear weights (ONNX "
        "Runtime's quantizer; GRU and RNN layers stay float32; language models and translators: "
        "float32 only)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.bundle import bundle_task
    from rnnkit.tasks import registry

    spec = registry.get(bundle_task(args.model))
    if spec.exporter is None:
        raise ConfigError(f"{args.model}: {spec.title} is not exported (task {spec.name!r})")
    paths = spec.load("exporter")(Path(args.model), args.out, args.quantize)
    size = sum(path.stat().st_size for path in paths) / 1e6
    print(f"wrote {' and '.join(map(str, paths))} ({size:.1f} MB)")
    return 0

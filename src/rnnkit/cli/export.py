"""``rnnkit export``: write a model bundle as an ONNX graph: a classifier's (optionally with
int8 weights), a language model's step, or a translator's encoder and decoder step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.bundle import ONNX_FILES, TRANSLATOR_ONNX_FILES
from rnnkit.errors import ConfigError, OutputError
from rnnkit.files import check_target

DEFAULT_NAME, INT8_NAME = ONNX_FILES


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
        f"for a translator the folder to write {' and '.join(TRANSLATOR_ONNX_FILES)} into "
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


def default_path(model: str | Path, quantize: str | None) -> Path:
    return Path(model) / (INT8_NAME if quantize else DEFAULT_NAME)


def run(args: argparse.Namespace) -> int:
    from rnnkit.bundle import bundle_task
    from rnnkit.export.onnx import export_onnx, not_rnnkit_onnx
    from rnnkit.tasks.language_model import NAME as LANGUAGE_MODEL
    from rnnkit.tasks.translation import NAME as TRANSLATION

    task = bundle_task(args.model)
    if task == TRANSLATION:
        return run_translator(args)
    language_model = task == LANGUAGE_MODEL
    if language_model and args.quantize:
        raise ConfigError(
            "--quantize int8 is for classifiers: a language model is exported in float32"
        )
    out = Path(args.out) if args.out else default_path(args.model, args.quantize)
    # An existing file is replaced only when it is an earlier export.
    check_target(out, option="--out", folder=False, foreign=not_rnnkit_onnx)
    if language_model:
        from rnnkit.export.language_model import export_language_model
        from rnnkit.language_model import LanguageModel

        lm = LanguageModel.load(args.model, command="rnnkit export")
        export_language_model(lm.model_, out)
    else:
        from rnnkit.classifier import TextClassifier

        clf = TextClassifier.load(args.model)
        labels = [str(c) for c in clf.classes_]
        export_onnx(clf.model_, labels, out, quantize=args.quantize)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def run_translator(args: argparse.Namespace) -> int:
    """A translator's two graphs into the model's folder (or ``--out``), each replacing only
    an earlier export; ``export_translator`` compares them with PyTorch before writing."""
    from rnnkit.export.onnx import not_rnnkit_onnx
    from rnnkit.export.translator import export_translator
    from rnnkit.translator import Translator

    if args.quantize:
        raise ConfigError("--quantize int8 is for classifiers: a translator is exported in float32")
    folder = Path(args.out) if args.out else Path(args.model)
    if folder.exists() and not folder.is_dir():
        raise OutputError(
            f"--out {folder}: is a file; a translator's graphs "
            f"({' and '.join(TRANSLATOR_ONNX_FILES)}) are written into a folder"
        )
    for name in TRANSLATOR_ONNX_FILES:
        check_target(folder / name, option="--out", folder=False, foreign=not_rnnkit_onnx)
    translator = Translator.load(args.model, command="rnnkit export")
    paths = export_translator(translator.model_, folder)
    size = sum(path.stat().st_size for path in paths) / 1e6
    print(f"wrote {paths[0]} and {paths[1]} ({size:.1f} MB)")
    return 0

"""The language model's commands that use a model (``evaluate``, ``generate``), and how its
commands read a corpus."""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_device_options, load_for, print_json
from rnnkit.cli.tasks import Command

if TYPE_CHECKING:
    from rnnkit.data.documents import DocumentSplits

CORPUS_HELP = """\
CORPUS is a plain text file (.txt, or any file read as text; --document says what one
document is), a folder of text files or such a folder in a .tar.gz (ARCHIVE#FOLDER, e.g.
aclImdb_v1.tar.gz#aclImdb/train/unsup), a labelled file the classifier reads (CSV, TSV, JSON
Lines, ...: its text column, labels ignored), any of them gzip-compressed (.gz), or a named
dataset: ptb, tinyshakespeare, imdb-lm (IMDB's train and unlabelled reviews; its test split
the test reviews). A document holds at most 134,217,728 (2^27) characters."""

GENERATE_DESCRIPTION = """\
Generate text with a language model bundle (rnnkit lm train --out), token by token: each
token is written to standard output as soon as it is drawn. The prompt is read from the start
of a document and written first.

Each next token is drawn from the model's distribution divided by --temperature (0: always the
most likely token; below 1: safer, above 1: more varied), kept to the --top-k most likely
tokens and to the smallest set whose probability reaches --top-p. A seed makes the text
reproducible; without one a seed is drawn and --json reports it. Sample i of --num-samples
uses seed + i, so one sample of a run can be reproduced alone."""

GENERATE_EXAMPLES = """\
examples:
  rnnkit generate models/shakespeare --prompt "ROMEO:" --temperature 0.8 --seed 1
  rnnkit generate models/ptb --prompt "the company said" --max-tokens 40 --top-p 0.9
  rnnkit generate models/shakespeare --num-samples 3 --stop $'\\n\\n' --json
"""


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading the corpus")
    group.add_argument(
        "--text-col",
        default="text",
        metavar="NAME",
        help="the text column of a CSV/TSV/JSON Lines corpus (default: text)",
    )
    group.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of the files, e.g. latin-1 (default: utf-8; a named dataset's own "
        "is known)",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with one subfolder per named dataset (default: $RNNKIT_DATA_DIR, then "
        "the cache)",
    )


def read_corpus(
    args: argparse.Namespace, source: str, *, document: str | None, valid_split: float = 0.0
) -> DocumentSplits:
    from rnnkit.data.documents import load_documents

    text_col = args.text_col if args.text_col != "text" else None
    return load_documents(
        source,
        document=document,
        data_dir=args.data_dir,
        valid_split=valid_split,
        text_col=text_col,
        encoding=args.encoding,
    )


def rounded(scores: dict[str, Any] | None) -> dict[str, Any] | None:
    if scores is None:
        return None
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in scores.items()}


UNIT_WORDS = {"char": "character", "word": "word", "subword": "subword"}


def describe(scores: dict[str, Any]) -> str:
    """``loss 1.4952 nats per character, perplexity 4.46, 2.157 bits per character (111,540
    characters)``."""
    unit = UNIT_WORDS.get(scores["unit"], "token")
    return (
        f"loss {scores['loss']:.4f} nats per {unit}, perplexity {scores['perplexity']:.2f}, "
        f"{scores['bits_per_token']:.3f} bits per {unit} ({scores['tokens']:,} {unit}s)"
    )


# -- evaluation --------------------------------------------------------------------------


def add_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model bundle folder (rnnkit lm train)")
    parser.add_argument("data", metavar="CORPUS", help="text, folder or dataset")
    parser.add_argument(
        "--split",
        choices=("train", "valid", "test"),
        help="the split of a named dataset to score",
    )
    parser.add_argument(
        "--document",
        choices=("line", "paragraph", "file"),
        help="what one document of a plain text file is (default: as the model was trained; "
        "a named dataset: its own documents)",
    )
    add_corpus_options(parser)
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    add_device_options(parser)


def run_evaluate(args: argparse.Namespace) -> int:
    from rnnkit.data.documents import LM_DATASETS
    from rnnkit.tasks.language_model.estimator import LanguageModel

    lm = load_for(args, LanguageModel, "rnnkit lm evaluate")
    named = args.data in LM_DATASETS and not Path(args.data.split("#", 1)[0]).exists()
    # a named dataset is read in its own documents; a file as the model was trained
    document = args.document or (None if named else lm.document)
    splits = read_corpus(args, args.data, document=document)
    split = args.split or ("train" if not named else "test" if splits.test else "valid")
    documents = splits.split(split)
    scores = lm.evaluate(documents)
    scores = {**scores, "data": args.data, "split": split if named else None}
    if args.json:
        print_json(rounded(scores))
    else:
        where = f"{args.data} ({split})" if named else args.data
        print(f"{where}: {describe(scores)}")
    return 0


def add_generate(parser: argparse.ArgumentParser) -> None:
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


def run_generate(args: argparse.Namespace) -> int:
    from rnnkit.tasks.language_model.estimator import LanguageModel
    from rnnkit.tasks.language_model.generation import Sampling, check_prompt, check_request

    check_request(  # every option checked before the model is loaded
        max_tokens=args.max_tokens, seed=args.seed, samples=args.num_samples, stop=args.stop
    )
    check_prompt(args.prompt)
    sampling = Sampling(args.temperature, args.top_k, args.top_p)
    lm = load_for(args, LanguageModel, "rnnkit generate")
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


EVALUATE = Command(
    "score a language model on text",
    "Score a language model bundle on text: loss (nats per token), perplexity, bits per "
    "token, and the tokens scored; each document from its start.\n\n"
    + CORPUS_HELP
    + "\n\nA named dataset is scored on its test split (its validation split when it has no "
    "test split) unless --split says otherwise.",
    add_evaluate,
    run_evaluate,
)
GENERATE = Command(
    "generate text with a language model",
    GENERATE_DESCRIPTION,
    add_generate,
    run_generate,
    epilog=GENERATE_EXAMPLES,
)

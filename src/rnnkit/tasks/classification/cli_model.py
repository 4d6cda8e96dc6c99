"""The classifier's commands that use a model (``evaluate``, ``predict``), and how its
commands read labelled data (``add_data_options``, ``load_file``, ``load_named``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_device_options, load_for, print_json, text_chunks
from rnnkit.cli.tasks import Command
from rnnkit.data.examples import LABELLED_FORMATS, ReadOptions
from rnnkit.errors import ConfigError, PredictionError
from rnnkit.plotting import image_path, pyplot, save_figure

if TYPE_CHECKING:
    from rnnkit.data.corpus import Corpus
    from rnnkit.data.datasets import Splits
    from rnnkit.tasks.classification.estimator import TextClassifier

NON_FINITE = "the model gave NaN or infinite outputs for this text"
CHUNK = 4096  # texts predicted together, so a long input streams in bounded memory


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading data files")
    group.add_argument(
        "--format",
        choices=LABELLED_FORMATS,
        default="auto",
        help="file format; auto guesses from the name and first line and says "
        "what it chose (default: auto)",
    )
    group.add_argument(
        "--text-col",
        default="text",
        metavar="NAMES",
        help="CSV/TSV/JSONL column(s) holding the text; several, separated by "
        "commas, are joined with a space, e.g. title,description "
        "(default: text)",
    )
    group.add_argument(
        "--label-col",
        default="label",
        metavar="NAME",
        help="CSV/TSV/JSONL column holding the label (default: label)",
    )
    group.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of the files, e.g. latin-1 (default: utf-8)",
    )
    group.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="leave out malformed rows (wrong column count, missing label, "
        "empty text) and report how many, instead of stopping at the first",
    )
    group.add_argument(
        "--fine-labels",
        action="store_true",
        help="TREC files: use fine labels such as NUM:date instead of NUM",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with one subfolder per named dataset (default: "
        "$RNNKIT_DATA_DIR, then the cache, then a download)",
    )
    group.add_argument(
        "--no-cache",
        action="store_true",
        help="read and tokenize the data again instead of using the cache",
    )


def read_options(args: argparse.Namespace) -> ReadOptions:
    return ReadOptions(
        format=args.format,
        text_cols=tuple(c.strip() for c in args.text_col.split(",") if c.strip()),
        label_col=args.label_col,
        encoding=args.encoding,
        skip_bad_rows=args.skip_bad_rows,
        fine_labels=args.fine_labels,
    )


def is_dataset(data: str) -> bool:
    from rnnkit.data.registry import DATASETS

    return data in DATASETS and not Path(data.split("#", 1)[0]).exists()


def check_data(data: str) -> None:
    from rnnkit.data.registry import DATASETS

    if not is_dataset(data) and not Path(data.split("#", 1)[0]).exists():
        raise ConfigError(
            f"{data}: no such file or folder, and not a dataset name "
            f"(datasets: {', '.join(DATASETS)}; see rnnkit datasets)"
        )


def load_named(args: argparse.Namespace, name: str, tokenizer: str) -> Splits:
    from rnnkit.data.datasets import load_dataset

    return load_dataset(name, args.data_dir, tokenizer, cache=not args.no_cache)


def load_file(args: argparse.Namespace, path: str, tokenizer: str, *, quiet: bool) -> Corpus:
    """The file ``path`` read with the data options of ``args``; its notes (the format
    guessed, rows skipped) printed unless ``quiet``."""
    from rnnkit.data.cache import load_corpus

    check_data(path)
    corpus = load_corpus(path, read_options(args), tokenizer, cache=not args.no_cache)
    if not quiet:
        for note in corpus.notes:
            print(f"rnnkit: {note}", file=sys.stderr)
    return corpus


def rounded(metrics: dict[str, Any] | None) -> dict[str, float] | None:
    if metrics is None:
        return None
    return {key: round(float(metrics[key]), 6) for key in ("accuracy", "macro_f1")}


def load_model(args: argparse.Namespace) -> TextClassifier:
    """The bundle at ``args.model``, with ``--device``, ``--precision`` and ``--threads``
    applied."""
    from rnnkit.tasks.classification.estimator import TextClassifier

    words = (args.command, getattr(args, "classify_command", None))
    return load_for(args, TextClassifier, " ".join(["rnnkit", *filter(None, words)]))


def add_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model bundle folder (rnnkit train --out)")
    parser.add_argument("data", metavar="DATA", help="labelled file or folder, or dataset name")
    add_data_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the full report as one JSON object"
    )
    parser.add_argument(
        "--confusion-png",
        metavar="FILE",
        help="also draw the confusion matrix to this image file (.png added when FILE has no "
        "image suffix; needs matplotlib: pip install 'rnnkit[plot]')",
    )
    add_device_options(parser)


def run_evaluate(args: argparse.Namespace) -> int:
    plot = image_path("--confusion-png", args.confusion_png) if args.confusion_png else None
    clf = load_model(args)
    check_data(args.data)
    if is_dataset(args.data):
        corpus = load_named(args, args.data, clf.tokenizer).test
        if corpus is None:
            raise ConfigError(f"dataset {args.data!r} has no test split")
    else:
        corpus = load_file(args, args.data, clf.tokenizer, quiet=False)
    report = clf.evaluate_corpus(corpus)
    report["data"] = args.data
    report["texts"] = len(corpus)
    if plot is not None:
        plot_confusion(report, plot)
    if args.json:
        print_json(report)
        return 0
    print(
        f"{args.data}: {len(corpus)} texts, accuracy {report['accuracy']:.4f}, "
        f"macro-F1 {report['macro_f1']:.4f}"
    )
    width = max(len("class"), *(len(name) for name in report["labels"]))
    print(f"\n{'class':<{width}}  precision  recall      f1  support")
    for name, row in report["per_class"].items():
        print(
            f"{name:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
            f"{row['f1']:6.4f}  {row['support']:7d}"
        )
    print("\nconfusion matrix (rows: true class, columns: predicted, in the order above)")
    for name, row in zip(report["labels"], report["confusion"], strict=True):
        print(f"{name:<{width}}  " + " ".join(f"{count:6d}" for count in row))
    if plot is not None:
        print(f"\nwrote {plot}")
    return 0


def plot_confusion(report: dict[str, Any], path: Path) -> None:
    figure = confusion_figure(report)
    save_figure(figure, path, dpi=120)


def confusion_figure(report: dict[str, Any]) -> Any:
    """The confusion matrix of ``report`` as a matplotlib figure, wide enough for its title."""
    plt = pyplot("--confusion-png")
    labels, matrix = report["labels"], report["confusion"]
    size = 1.2 + 0.6 * len(labels)
    figure, axes = plt.subplots(figsize=(max(size + 1, 4.8), max(size, 3.8)))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                color="white" if count > peak / 2 else "black",
            )
    axes.set_title(
        f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}", fontsize=10
    )
    figure.colorbar(image)
    figure.tight_layout()
    return figure


def add_predict(parser: argparse.ArgumentParser) -> None:
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


def run_predict(args: argparse.Namespace) -> int:
    import numpy as np

    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
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
    for chunk in text_chunks(args, CHUNK):
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


EVALUATE = Command(
    "score a model on labelled data",
    "Score a model bundle on labelled data: accuracy, macro-F1, per-class precision, recall "
    "and F1, and the confusion matrix. DATA is a file or folder read like rnnkit train's, or "
    "a dataset name (its test split).",
    add_evaluate,
    run_evaluate,
)
PREDICT = Command(
    "label texts, one JSON object per text",
    "Label texts with a model bundle. Prints one JSON object per text: "
    '{"label": ..., "score": ..., "probs": {label: probability, ...}}, in input '
    'order; an empty line gives {"error": "empty text"}. Texts come from the '
    "command line, from --input FILE (one per line), or from standard input.",
    add_predict,
    run_predict,
    takes_texts=True,
)

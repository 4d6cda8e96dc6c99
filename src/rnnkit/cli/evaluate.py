"""``rnnkit evaluate``: score a model bundle on labelled data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.cli.common import (
    add_data_options,
    add_device_options,
    check_data,
    is_dataset,
    load_file,
    load_model,
    load_named,
    print_json,
)
from rnnkit.errors import ConfigError
from rnnkit.plotting import image_path, pyplot, save_figure


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a model on labelled data",
        description="Score a model bundle on labelled data: accuracy, macro-F1, per-class "
        "precision, recall and F1, and the confusion matrix. DATA is a file or "
        "folder read like rnnkit train's, or a dataset name (its test split).",
    )
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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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

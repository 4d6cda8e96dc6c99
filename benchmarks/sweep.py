"""Compare TextClassifier settings on named datasets over several seeds.

    python benchmarks/sweep.py --data-dir ../shared/data --datasets sst2,trec \\
        --seeds 0,1,2 --name defaults "lr=2e-3,min_freq=1,patience=2,epochs=5" ""

Each setting is a comma-separated list of ``TextClassifier`` parameters (empty: the defaults).
Prints, and writes to the ``sweep-NAME`` section of ``benchmarks/RESULTS.md``, the mean test and
validation accuracy with the range over seeds and the mean training seconds. Used to choose the
defaults; docs/design.md cites its sections.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from rnnkit import TextClassifier
from rnnkit.data.datasets import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, write_section


def parse_setting(text: str) -> dict[str, Any]:
    """``"lr=5e-3,pooling='max'"`` -> ``{"lr": 0.005, "pooling": "max"}``."""
    call = ast.parse(f"f({text})", mode="eval").body
    assert isinstance(call, ast.Call)
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", nargs="+", help="comma-separated parameters; '' = defaults")
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--name", default="defaults", help="section name in RESULTS.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [
        f"## Sweep `{args.name}` (`benchmarks/sweep.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"Mean over seeds {args.seeds} [min-max]; every parameter not listed is at its default.",
        "",
        "| dataset | setting | test accuracy | valid accuracy | train s |",
        "|---|---|---|---|---:|",
    ]
    for name in args.datasets.split(","):
        splits = load_dataset(name, args.data_dir)
        for text in args.settings:
            setting = parse_setting(text)
            tests, valids, seconds = [], [], []
            for seed in seeds:
                start = time.perf_counter()
                clf = TextClassifier(**{**setting, "seed": seed}).fit_corpus(
                    splits.train, splits.valid, classes=splits.classes
                )
                seconds.append(time.perf_counter() - start)
                tests.append(clf.evaluate_corpus(splits.test)["accuracy"])
                valids.append(clf.metrics_["valid"]["accuracy"])
            row = (
                f"| {name} | `{text or 'defaults'}` | {statistics.mean(tests):.4f} "
                f"[{min(tests):.3f}-{max(tests):.3f}] | {statistics.mean(valids):.4f} "
                f"[{min(valids):.3f}-{max(valids):.3f}] | {statistics.mean(seconds):,.0f} |"
            )
            lines.append(row)
            print(row, flush=True)
    if not args.no_write:
        write_section(f"sweep-{args.name}", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

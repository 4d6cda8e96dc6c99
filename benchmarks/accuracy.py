"""Test accuracy and training time of ``rnnkit train`` with its defaults on the benchmark datasets.

    python benchmarks/accuracy.py --data-dir ../shared/data [--datasets sst2,trec,imdb]

Runs ``rnnkit train NAME --json --quiet`` as a subprocess for each dataset (no option but the
data folder), times the whole command, and writes a table to ``benchmarks/RESULTS.md``: test
accuracy and macro-F1, validation accuracy, training seconds and tokens per second, epochs run,
and the command's wall time including reading the data. It checks the issue's targets: SST-2 at
least 0.82 within 5 minutes, TREC at least 0.88 (5 minutes), IMDB at least 0.88 within 20.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import README, machine_line, replace_section, write_section

TARGETS = {"sst2": (0.82, 5), "trec": (0.88, 5), "imdb": (0.88, 20)}  # accuracy, minutes


def run(name: str, data_dir: str, out: Path, cold: bool) -> tuple[dict[str, object], float]:
    env = dict(os.environ)
    if cold:  # a fresh tokenization cache: the wall time includes reading and tokenizing
        env["RNNKIT_CACHE_DIR"] = str(out / "cache")
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "train",
            name,
            "--data-dir",
            data_dir,
            "--out",
            str(out / name),
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"rnnkit train {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1]), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("RNNKIT_DATA_DIR"),
        required=False,
        help="folder holding the datasets (default: $RNNKIT_DATA_DIR)",
    )
    parser.add_argument("--datasets", default="sst2,trec,imdb")
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="reuse the tokenization cache instead of a fresh one",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    lines = [
        "## Default training runs (`benchmarks/accuracy.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        "`rnnkit train NAME --data-dir DIR` with every other option at its default; wall time is",
        "the whole command"
        + (
            ", with a fresh tokenization cache."
            if not args.warm_cache
            else ", with a warm tokenization cache."
        ),
        "",
        "| dataset | test accuracy | test macro-F1 | valid accuracy | epochs run (best) "
        "| train s | tokens / s | wall s | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    summary = [
        "| dataset | test accuracy | training time | whole command |",
        "|---|---:|---:|---:|",
    ]
    missed = False
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets.split(","):
            metrics, wall = run(name, args.data_dir, Path(folder), cold=not args.warm_cache)
            test, valid = metrics["test"], metrics["valid"]
            if not isinstance(test, dict) or not isinstance(valid, dict):
                raise SystemExit(f"rnnkit train {name} printed no test or validation scores")
            target = ""
            if name in TARGETS:
                accuracy, minutes = TARGETS[name]
                ok = test["accuracy"] >= accuracy and wall < minutes * 60
                missed |= not ok
                target = f"{'met' if ok else 'MISSED'}: >= {accuracy} in < {minutes} min"
            row = (
                f"| {name} | {test['accuracy']:.4f} | {test['macro_f1']:.4f} | "
                f"{valid['accuracy']:.4f} | {metrics['epochs_run']} ({metrics['best_epoch']}) | "
                f"{metrics['train_seconds']:,.0f} | {metrics['train_tokens_per_second']:,.0f} | "
                f"{wall:,.0f} | {target} |"
            )
            lines.append(row)
            print(row, flush=True)
            summary.append(
                f"| {name} | {test['accuracy']:.4f} | "
                f"{metrics['train_seconds']:,.0f} s | {wall:,.0f} s |"
            )
    if not args.no_write:
        write_section("accuracy", "\n".join(lines))
        replace_section(README, "accuracy-summary", "\n".join(summary))
        print("wrote benchmarks/RESULTS.md and the summary in README.md")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())

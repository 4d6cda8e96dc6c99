"""Test accuracy and training time of ``rnnkit train`` with its defaults on the benchmark datasets.

    python benchmarks/accuracy.py --data-dir ../shared/data [--datasets sst2,trec,imdb]

Runs ``rnnkit train NAME --json --quiet`` as a subprocess for each dataset (no option but the
data folder), times the whole command, and writes a table to ``benchmarks/RESULTS.md``: test
accuracy and macro-F1, validation accuracy, training seconds and tokens per second, epochs run,
and the command's wall time including reading the data. It checks the issue's targets: SST-2 at
least 0.82 within 5 minutes, TREC at least 0.88 (5 minutes), IMDB at least 0.88 within 20 and
in under 2.5 GB of memory; with ``--precisions fp32,bf16``, bf16 within 0.5 points of fp32.
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
MEMORY_MB = 2_500  # peak resident memory of training on IMDB


def run(
    name: str, data_dir: str, out: Path, *, cold: bool, options: list[str]
) -> tuple[dict[str, object], float, float]:
    """``rnnkit train NAME``: (metrics.json, wall seconds, peak resident memory in MB)."""
    env = dict(os.environ)
    if cold:  # a fresh tokenization cache: the wall time includes reading and tokenizing
        env["RNNKIT_CACHE_DIR"] = str(out / "cache")
    command = [
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
        *options,
    ]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
        )
        assert process.stdout is not None
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"rnnkit train {name} failed:\n{errors.read()}")
    peak_mb = usage.ru_maxrss / 1024  # Linux reports KiB
    return json.loads(stdout.splitlines()[-1]), wall, peak_mb


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
    parser.add_argument(
        "--precisions",
        default="fp32",
        help="comma-separated: fp32, bf16 (bf16 rows are compared with fp32)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    cache = "a warm" if args.warm_cache else "a fresh"
    lines = [
        "## Default training runs (`benchmarks/accuracy.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        "`rnnkit train NAME --data-dir DIR [--precision P]`, every other option at its default; "
        f"wall time is the whole command, with {cache} tokenization cache; peak memory is the "
        "command's maximum resident set.",
        "",
        "| dataset | precision | test accuracy | test macro-F1 | valid accuracy | epochs (best) "
        "| train s | tokens / s | wall s | peak MB | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    summary = [
        "| dataset | test accuracy | training time | whole command |",
        "|---|---:|---:|---:|",
    ]
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets.split(","):
            scores: dict[str, float] = {}
            for precision in args.precisions.split(","):
                metrics, wall, peak_mb = run(
                    name,
                    args.data_dir,
                    Path(folder),
                    cold=not args.warm_cache,
                    options=["--precision", precision],
                )
                test, valid = metrics["test"], metrics["valid"]
                if not isinstance(test, dict) or not isinstance(valid, dict):
                    raise SystemExit(f"rnnkit train {name} printed no test or validation scores")
                scores[precision] = test["accuracy"]
                target = ""
                if name in TARGETS and precision == "fp32":
                    accuracy, minutes = TARGETS[name]
                    ok = test["accuracy"] >= accuracy and wall < minutes * 60
                    target = f"{'met' if ok else 'MISSED'}: >= {accuracy} in < {minutes} min"
                    verdicts.append(f"{name}: {target}")
                if name == "imdb":
                    ok = peak_mb < MEMORY_MB
                    verdicts.append(
                        f"imdb {precision}: peak memory {peak_mb:,.0f} MB (target under "
                        f"{MEMORY_MB:,} MB): {'met' if ok else 'MISSED'}"
                    )
                row = (
                    f"| {name} | {precision} | {test['accuracy']:.4f} | {test['macro_f1']:.4f} | "
                    f"{valid['accuracy']:.4f} | {metrics['epochs_run']} ({metrics['best_epoch']}) "
                    f"| {metrics['train_seconds']:,.0f} "
                    f"| {metrics['train_tokens_per_second']:,.0f} "
                    f"| {wall:,.0f} | {peak_mb:,.0f} | {target} |"
                )
                lines.append(row)
                print(row, flush=True)
                if precision == "fp32":
                    summary.append(
                        f"| {name} | {test['accuracy']:.4f} | "
                        f"{metrics['train_seconds']:,.0f} s | {wall:,.0f} s |"
                    )
            if "fp32" in scores and "bf16" in scores:
                gap = 100 * (scores["fp32"] - scores["bf16"])
                verdicts.append(
                    f"{name}: bf16 test accuracy {gap:+.2f} points below fp32 (target at "
                    f"most 0.5): {'met' if gap <= 0.5 else 'MISSED'}"
                )
    lines += ["", "Targets:", "", *(f"- {v}" for v in verdicts)]
    print("\n".join(verdicts))
    missed = any("MISSED" in v for v in verdicts)
    if not args.no_write:
        write_section("accuracy", "\n".join(lines))
        if len(summary) > 2:
            replace_section(README, "accuracy-summary", "\n".join(summary))
        print("wrote benchmarks/RESULTS.md and the summary in README.md")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed before and after a change: the same workloads timed with two source trees, side by side.

    python benchmarks/before_after.py --old COMMIT --data-dir ../shared/data

exports ``src/`` of the old commit (``git archive``) into a temporary folder and times, with each
tree in its own subprocess (``PYTHONPATH=TREE/src``, this Python, the same torch thread count),
in interleaved rounds whose order alternates (old, new; new, old; ...) so that the machine's
drifting load hits both alike:

1. training: ``TextClassifier`` as in throughput.py (bidirectional LSTM, embedding 128,
   hidden 256, batches of 64 bucketed by length, length cap 400) fitted for ``--steps``
   optimizer steps on a seeded sample of IMDB training reviews, after a warm-up fit of 3
   steps: real tokens per second by the trainer's clock (``metrics_["train_tokens_per_second"]``,
   the step loop only), in fp32 and, on a CPU with native bfloat16, bf16;
2. inference: ``predict_proba`` (the whole call, tokenizing included) on a seeded sample of
   IMDB test reviews, for that model and for the default-size one (hidden 128), fp32 and bf16:
   documents and tokens per second;
3. recurrent.py's layer step: forward and backward of a bidirectional ``rnnkit.nn.LSTM`` and
   ``GRU`` (batch 128, time 100, lengths uniform in [50, 100], input 128, hidden 256), fused
   and reference: milliseconds per step, the median of ``--layer-steps`` after a warm-up.

The workloads (``_before_after_worker.py``) use only public API of both trees, and read the
reviews from a JSON file that this script writes from the IMDB archive, so a restructured data
module cannot change what is measured. Reports the median of each metric over the rounds, the
median of the paired new/old ratios (new over old of the same round, a minute apart, so the
machine's slower drift cancels), whether it is within ``--tolerance`` (3%), and the load
average before each subprocess (a busy machine makes 3% unresolvable: the section says so);
writes the
``before_after`` section of ``benchmarks/RESULTS.md``; ``--check`` exits with 1 when a metric
got slower beyond the tolerance.

Duration with the defaults (6 rounds, 20 steps, 2,000 training and 1,000 test reviews, 3 layer
steps): reading the IMDB archive about 10 s, then 12 subprocesses of about 40 s each (start-up
4 s, training 20 s, inference 6 s, layers 10 s; about 15 s more where bf16 runs), so 8-11 minutes
on this project's 2-core machine when nothing else runs. Each round prints its time per workload.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, write_section

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("_before_after_worker.py")
REVIEW = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt")


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def describe(commit: str) -> tuple[str, str]:
    """(full hash, ``short hash subject``) of ``commit``; a clear error if it is not one."""
    try:
        sha = git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"before_after.py: {commit!r} is not a commit of {ROOT}") from None
    return sha, git("log", "-1", "--format=%h %s", sha)


def export(commit: str, folder: Path) -> Path:
    """``src/`` of ``commit`` written under ``folder``; returns ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def trees(args: argparse.Namespace, scratch: Path) -> dict[str, tuple[Path, str]]:
    """``{"old": (tree, description), "new": ...}``; ``--new`` is a folder with ``src/rnnkit``
    (default: this working tree) or a commit, exported like ``--old``."""
    sha, subject = describe(args.old)
    result = {"old": (export(sha, scratch / "old"), f"commit {subject}")}
    new = Path(args.new) if args.new else ROOT
    if (new / "src" / "rnnkit").is_dir():
        text = f"working tree {new}"
        if new.resolve() == ROOT:
            dirty = git("status", "--porcelain", "--", "src")
            text += f" at {git('log', '-1', '--format=%h %s')}"
            text += " with uncommitted changes to src/" if dirty else ""
        result["new"] = (new.resolve(), text)
    else:
        sha, subject = describe(str(args.new))
        result["new"] = (export(sha, scratch / "new"), f"commit {subject}")
    return result


def imdb_sample(data_dir: Path, train: int, test: int, seed: int) -> dict[str, Any]:
    """Seeded samples of IMDB training (texts and labels) and test reviews, read straight from
    the official archive (sorted by member name, so the sample does not depend on its order)."""
    path = data_dir / "imdb" / "aclImdb_v1.tar.gz"
    if not path.is_file():
        raise SystemExit(f"before_after.py: no IMDB archive at {path} (see --data-dir)")
    reviews: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            match = REVIEW.fullmatch(member.name)
            if match and member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has one
                text = handle.read().decode("utf-8")
                reviews[match[1]].append((member.name, match[2], text))
    sample: dict[str, Any] = {}
    for split, count in (("train", train), ("test", test)):
        rows = sorted(reviews[split])
        chosen = np.random.default_rng(seed).permutation(len(rows))[:count]
        sample[split] = {
            "texts": [rows[i][2] for i in chosen],
            "labels": [rows[i][1] for i in chosen],
        }
    return sample


def run_worker(
    tree: Path, sample: Path, args: argparse.Namespace, precisions: str
) -> dict[str, Any]:
    """One round of the workloads with ``tree``'s rnnkit: the worker's JSON, whose
    ``metrics`` are [(metric, unit, value), ...] and ``phases`` seconds per workload."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {
        "PYTHONPATH": str(tree / "src"),
        "OMP_NUM_THREADS": str(args.threads),
        "RNNKIT_CACHE_DIR": str(sample.parent / "cache"),
    }
    command = [sys.executable, str(WORKER), str(sample), "--steps", str(args.steps)]
    command += ["--layer-steps", str(args.layer_steps), "--threads", str(args.threads)]
    command += ["--precisions", precisions, "--expect-src", str(tree / "src")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree)
    if done.returncode != 0:
        raise SystemExit(f"before_after.py: the worker failed with {tree}:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if result["threads"] != args.threads:
        raise SystemExit(f"worker ran {result['threads']} threads, asked for {args.threads}")
    return result


def verdict(ratio: float, unit: str, tolerance: float) -> tuple[str, bool]:
    """(text, slower beyond tolerance) for a new/old ratio of a metric in ``unit``."""
    speed = 1 / ratio if unit.startswith("ms") else ratio  # above 1: the new tree is faster
    if abs(speed - 1) <= tolerance:
        return "yes", False
    if speed < 1:
        return f"**no: {1 - speed:.1%} slower**", True
    return f"no: {speed - 1:.1%} faster", False


def table(runs: dict[str, list[list[Any]]], tolerance: float) -> tuple[list[str], int]:
    """Markdown rows: medians over rounds, and the median of the paired ratios (new / old of
    the same round, measured a minute apart, so the machine's slower drift cancels) with their
    quartiles; the verdict goes by the paired median. Also the number of metrics slower beyond
    the tolerance."""
    lines = [
        "| metric | unit | old median | new median | paired new / old (quartiles) "
        f"| spread old / new | within {tolerance:.0%}? |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    slower = 0
    for index, (name, unit, _) in enumerate(runs["old"][0]):
        values = {tree: [r[index][2] for r in rounds] for tree, rounds in runs.items()}
        if any(r[index][:2] != [name, unit] for rounds in runs.values() for r in rounds):
            raise SystemExit(f"the two trees reported different metrics at row {index}")
        old, new = (statistics.median(values[tree]) for tree in ("old", "new"))
        ratios = [n / o for n, o in zip(values["new"], values["old"], strict=True)]
        paired = statistics.median(ratios)
        low, _, high = (
            statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (paired, paired, paired)
        )
        spread = " / ".join(
            f"{(max(v) - min(v)) / statistics.median(v):.1%}" for v in values.values()
        )
        text, worse = verdict(paired, unit, tolerance)
        slower += worse
        lines.append(
            f"| {name} | {unit} | {old:,.1f} | {new:,.1f} | {paired:.3f} ({low:.3f}-{high:.3f}) "
            f"| {spread} | {text} |"
        )
    return lines, slower


def measure(
    args: argparse.Namespace, named: dict[str, tuple[Path, str]], sample: Path, precisions: str
) -> tuple[dict[str, list[list[Any]]], list[float]]:
    """Interleaved rounds, old then new in odd rounds and new then old in even ones: each
    tree's metrics per round, and the 1-minute load average before each subprocess."""
    runs: dict[str, list[list[Any]]] = {"old": [], "new": []}
    loads = []
    for round_index in range(args.rounds):
        order = ("old", "new") if round_index % 2 == 0 else ("new", "old")
        for label in order:
            loads.append(os.getloadavg()[0])
            start = time.perf_counter()
            result = run_worker(named[label][0], sample, args, precisions)
            runs[label].append(result["metrics"])
            phases = ", ".join(f"{k} {v:.0f} s" for k, v in result["phases"].items())
            print(
                f"round {round_index + 1}/{args.rounds}, {label}: "
                f"{time.perf_counter() - start:.0f} s ({phases}; load average {loads[-1]:.1f})",
                flush=True,
            )
    return runs, loads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True, help="the commit before the change")
    parser.add_argument("--new", help="a folder with src/rnnkit, or a commit (default: this tree)")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds per tree")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--train-sample", type=int, default=2000, help="training reviews")
    parser.add_argument("--sample", type=int, default=1000, help="test reviews to predict")
    parser.add_argument("--layer-steps", type=int, default=3, help="timed layer steps per round")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tolerance", type=float, default=0.03, help="allowed change, 0.03: 3%%")
    parser.add_argument("--seed", type=int, default=0, help="of the review samples")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a metric got slower"
    )
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    for option in ("rounds", "steps", "train_sample", "sample", "layer_steps", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    torch.set_num_threads(args.threads)
    try:
        bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        bf16 = False
    precisions = "fp32,bf16" if bf16 else "fp32"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="before_after-") as folder:
        scratch = Path(folder)
        named = trees(args, scratch)
        sample = scratch / "sample.json"
        data = imdb_sample(args.data_dir, args.train_sample, args.sample, args.seed)
        sample.write_text(json.dumps(data))
        for label, (tree, text) in named.items():
            print(f"{label}: {text} ({tree})", flush=True)
        runs, loads = measure(args, named, sample, precisions)
    rows, slower = table(runs, args.tolerance)
    minutes = (time.perf_counter() - started) / 60
    busy = max(loads) > args.threads + 0.5
    load = (
        f"The 1-minute load average before each subprocess was {min(loads):.1f}-{max(loads):.1f}"
        + (
            f", above the {args.threads} threads measured: other work shared the CPU, so "
            "these ratios are unreliable; run again on a quiet machine."
            if busy
            else "."
        )
    )
    no_bf16 = "" if "bf16" in precisions else " bf16 not measured: this CPU has no native bf16."
    lines = [
        "## Before and after a change (`benchmarks/before_after.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"- old: {named['old'][1]}",
        f"- new: {named['new'][1]}",
        "",
        f"Each tree in its own subprocess, {args.rounds} interleaved round(s), order alternating, "
        f"{args.threads} torch threads; training {args.steps} steps (after 3 warm-up steps) on "
        f"{args.train_sample:,} seeded IMDB training reviews; `predict_proba` on "
        f"{args.sample:,} seeded test reviews; layer steps the median of {args.layer_steps}. "
        "Medians over rounds; the paired ratio is the median over rounds of new / old within "
        "a round (its quartiles beside it), which the verdict uses; spread is "
        "(max - min) / median over the rounds. "
        f"The whole run took {minutes:.1f} minutes.{no_bf16}",
        "",
        load,
        "",
        *rows,
        "",
        f"Verdict: {len(rows) - 2 - slower} of {len(rows) - 2} metrics within "
        f"{args.tolerance:.0%} or faster; "
        + (f"{slower} slower beyond it." if slower else "none slower beyond it."),
    ]
    print("\n" + "\n".join(lines))
    if not args.no_write:
        write_section("before_after", "\n".join(lines))
        print("\nwrote the before_after section of benchmarks/RESULTS.md")
    return 1 if slower and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())

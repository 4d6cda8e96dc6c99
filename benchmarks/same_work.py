"""Whether a change left the computation alone: the torch operators (``aten::*``, counted by
the profiler) that one training step and one inference call run, before and after.

    python benchmarks/same_work.py --old COMMIT

Wall-clock time on this shared machine drifts by 15-70% between rounds (see the
``before_after`` section), more than a 3% change; the operators a step runs do not drift. A
workload whose operator counts are identical in both trees does the same tensor work, so any
difference in its time is Python overhead around the calls. Workloads: a two-layer
bidirectional LSTM and GRU layer (fused and reference) with lengths, forward and backward; the
classifier (LSTM and GRU; last+max+mean and attention pooling) in training (forward and
backward, dropouts on) and in inference. Writes the ``same_work`` section of
benchmarks/RESULTS.md. Takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import machine_line, write_section
from before_after import describe, export

WORKER = Path(__file__).with_name("_same_work_worker.py")
ROOT = Path(__file__).resolve().parent.parent


def operators(tree: Path) -> dict[str, dict[str, int]]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    result = subprocess.run(
        [sys.executable, str(WORKER)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True, help="the commit before the change")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sha, subject = describe(args.old)
    with tempfile.TemporaryDirectory(prefix="same_work-") as folder:
        old = operators(export(sha, Path(folder)))
    new = operators(ROOT)
    head = subprocess.check_output(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], text=True
    ).strip()
    lines = [
        "## Same work before and after a change (`benchmarks/same_work.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"- old: commit {subject}",
        f"- new: working tree at {head}",
        "",
        "| workload | aten operators, old | new | identical? |",
        "|---|---:|---:|---|",
    ]
    differ = 0
    for name in old:
        same = old[name] == new.get(name)
        differ += not same
        lines.append(
            f"| {name} | {sum(old[name].values())} | {sum(new.get(name, {}).values())} "
            f"| {'yes' if same else '**no**'} |"
        )
    lines += ["", f"{len(old) - differ} of {len(old)} workloads run identical operators."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("same_work", body)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())

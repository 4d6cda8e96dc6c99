"""How fast the command line answers ``--help``, against importing torch, side by side.

    python benchmarks/cli_startup.py [--rounds 15]

Each candidate is a fresh Python process, timed in interleaved rounds (the machine's load
drifts; every candidate meets it alike): ``python -c "import torch"``, ``rnnkit --help`` and
``rnnkit train --help`` (both ``python -m rnnkit``, as the tests run it), and
``python -c "pass"`` for the interpreter's own start. The target (issue 15): ``--help`` in less
than a third of the time of ``import torch``. Writes the ``cli_startup`` section of
benchmarks/RESULTS.md. Takes about a minute.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _common import interleaved_medians, machine_line, write_section


def process(*args: str) -> object:
    return lambda: subprocess.run([sys.executable, *args], check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    candidates = {
        "python -c pass": process("-c", "pass"),
        'python -c "import torch"': process("-c", "import torch"),
        "rnnkit --help": process("-m", "rnnkit", "--help"),
        "rnnkit train --help": process("-m", "rnnkit", "train", "--help"),
    }
    medians = interleaved_medians(candidates, rounds=args.rounds)  # type: ignore[arg-type]
    torch_seconds = medians['python -c "import torch"']
    lines = [
        "## CLI start-up",
        "",
        f"{machine_line()}; {args.rounds} interleaved rounds, medians "
        "(`python benchmarks/cli_startup.py`).",
        "",
        "| command | seconds | / import torch |",
        "|---|---:|---:|",
    ]
    for name, seconds in medians.items():
        lines.append(f"| `{name}` | {seconds:.3f} | {seconds / torch_seconds:.2f} |")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("cli_startup", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

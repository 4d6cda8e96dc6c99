"""Many ``rnnkit`` command lines in one real subprocess: each runs through ``rnnkit.cli.main``
with its own standard output and error, as ``python -m rnnkit ARGS`` would, so that checks of
options and messages pay for starting Python and importing torch once rather than per case.

Only for command lines that end before they train or serve: a case shares the process (torch's
thread count, say) with the cases before it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_many(
    *commands: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """The result of each command line, as ``subprocess.run`` would give it."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-m", "tests.robust.cli_batch", json.dumps(list(commands))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {}), "PYTHONPATH": path},
    )
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        subprocess.CompletedProcess(argv, a["returncode"], a["stdout"], a["stderr"])
        for argv, a in zip(commands, answers, strict=True)
    ]


def _run(argv: list[str]) -> dict[str, Any]:
    from rnnkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit:  # argparse: --help, usage errors
            status = exit.code if isinstance(exit.code, int) else 1
    return {"returncode": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    answers = [_run(argv) for argv in json.loads(sys.argv[1])]
    sys.stdout.write(json.dumps(answers) + "\n")

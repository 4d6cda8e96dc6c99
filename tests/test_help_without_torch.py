"""``rnnkit --help`` and every ``rnnkit COMMAND --help`` answer without importing torch (or
numpy): the commands import what they need when they run (the timing against ``import
torch`` is benchmarks/cli_startup.py's)."""

from __future__ import annotations

import subprocess
import sys

COMMANDS = ("train", "lr-find", "evaluate", "predict", "serve", "export", "datasets", "demo", "lab")

PROBE = """
import contextlib, io, sys
from rnnkit.cli import main
for argv in [["--help"]] + [[command, "--help"] for command in sys.argv[1:]]:
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main(argv)
    assert "usage:" in out.getvalue(), argv
print(sorted(m for m in ("torch", "numpy") if m in sys.modules))
"""


def test_help_imports_neither_torch_nor_numpy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *COMMANDS], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

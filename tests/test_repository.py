"""The repository keeps its promises: README commands, quick start, quoted numbers, lint, types."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def test_readme_starts_with_install_and_test_commands_that_ci_runs() -> None:
    first_block = re.search(r"```(\w+)\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    assert first_block.group(1) == "bash"
    assert README.index("```bash") < README.index("## ")
    commands = first_block.group(2).strip().splitlines()
    assert len(commands) == 2
    assert "pip install -c constraints.txt" in commands[0]
    assert "pytest" in commands[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command in ci_lines, f".ci/run does not run the README's command {command!r}"


@pytest.mark.parametrize("index", [0, 1], ids=["quick-start", "python-api"])
def test_readme_python_examples_run_and_print_what_they_say(index: int, tmp_path: Path) -> None:
    """Each ``print(...)  # OUTPUT`` line prints OUTPUT; ``# e.g. OUTPUT`` (generated text,
    which training on another CPU may change) prints a line; nothing warns."""
    snippet = [block for block in code_blocks("python") if "rnnkit" in block][index]
    expected = [
        line.split("#", 1)[1].strip() for line in snippet.splitlines() if line.startswith("print(")
    ]
    result = subprocess.run(
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip().splitlines()
    assert len(printed) == len(expected) > 0
    for line, comment in zip(printed, expected, strict=True):
        if comment.startswith("e.g. "):
            assert line[:2] == comment[5:7], (line, comment)  # its kind: ['...'], a number
        else:
            assert line == comment
    assert "warning" not in result.stderr.lower()
    assert "never saw" not in result.stderr


def test_numbers_quoted_in_readme_come_from_benchmark_results() -> None:
    summaries = re.findall(
        r"<!-- ([\w-]+)-summary:start -->(.*?)<!-- \1-summary:end -->", README, re.DOTALL
    )
    assert {name for name, _ in summaries} >= {"recurrent", "accuracy"}
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    for name, summary in summaries:
        numbers = re.findall(r"\b\d[\d,]*(?:\.\d+)?\b", summary)
        assert numbers, f"the README's {name} summary quotes no numbers"
        for number in numbers:
            assert number in results, f"README quotes {number}, which RESULTS.md lacks"


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; install the dev extra: pip install -e '.[dev]'")
    return path


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_passes_lint_and_type_checks(command: list[str]) -> None:
    result = subprocess.run(
        [_tool(command[0]), *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""Shared pieces of the benchmark scripts: machine description, timing, RESULTS.md sections."""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")
_HEADER = (
    "# Benchmark results\n\n"
    "Written by the scripts in `benchmarks/`; a script replaces its own section when run again.\n"
    "Timings are medians over interleaved rounds on a shared machine: compare the ratios measured\n"
    "side by side within a section, not absolute numbers across sections.\n"
)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown CPU"


def machine_name() -> str:
    """The CPU and whether it runs bfloat16 natively: what a table row needs to say where it
    ran, in a section whose rows come from several machines."""
    from rnnkit.train.precision import bf16_supported

    return f"{cpu_model()} ({'native' if bf16_supported() else 'no native'} bf16)"


def machine_line() -> str:
    """One line naming the machine, the library versions, the threads and the date."""
    import numpy

    return (
        f"{machine_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
        "threads; "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {numpy.__version__}; "
        f"{datetime.date.today().isoformat()}"
    )


def interleaved_medians(
    candidates: dict[str, Callable[[], object]], *, rounds: int, warmup: int = 1
) -> dict[str, float]:
    """Median wall seconds of each candidate, timed in interleaved rounds so that the
    machine's drifting load hits all of them alike."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


README = RESULTS.parent.parent / "README.md"


def replace_section(path: Path, name: str, body: str, *, header: str = "") -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``,
    appending the section (after ``header`` for a new file) when it is not there yet."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else header
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def flops_per_token(embed: int, hidden: int, *, training: bool, directions: int = 2) -> int:
    """Model FLOPs per real token of a one-layer LSTM: multiply-adds x 2 of its input and
    recurrent GEMMs (4 gates), per direction; training counts the backward pass as twice the
    forward."""
    return (6 if training else 2) * 4 * hidden * (embed + hidden) * directions


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section ``name`` of benchmarks/RESULTS.md."""
    replace_section(RESULTS, name, body, header=_HEADER)


def matmul_peak_gflops(
    dtype: torch.dtype = torch.float32,
    *,
    size: int = 1024,
    shape: tuple[int, int, int] | None = None,
) -> float:
    """Peak GFLOP/s of an (m x k) @ (k x n) matrix multiply, square ``size`` by default, at the
    current number of threads: the best of several rounds, since a peak is what the machine
    reaches when nothing else is running."""
    m, k, n = shape or (size, size, size)
    a = torch.randn(m, k).to(dtype)
    b = torch.randn(k, n).to(dtype)
    repeats = max(10, int(1e10 // (2 * m * k * n)))
    best = float("inf")
    a @ b
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n * repeats / best / 1e9

"""The lesson about sampling, shown: a small character model trained for about a minute, then
samples at several temperatures beside what the model thinks of them.

    p_T(x) = softmax(scores / T)       T -> 0: always the likeliest character (sense, repetition)
                                       T = 1: the model's own distribution
                                       T > 1: flatter than the model (variety, then nonsense)

For each sample: its loss per character under the model at T = 1 (how likely the model finds
the text it wrote: low when cold, high when hot) and the share of its 4-grams that are
distinct (how varied it is). The text is Tiny Shakespeare when a data folder has it, otherwise
the docstrings of the Python standard library, which every installation ships.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPERATURES = (0.0, 0.5, 1.0, 1.5)
# Standard-library packages whose docstrings make a corpus of a few hundred kilobytes.
STDLIB = (
    "argparse",
    "asyncio",
    "collections",
    "csv",
    "datetime",
    "decimal",
    "email",
    "functools",
    "http",
    "inspect",
    "itertools",
    "json",
    "logging",
    "os",
    "pathlib",
    "random",
    "re",
    "shutil",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib",
    "xml",
    "zipfile",
)


@dataclass(frozen=True)
class Sample:
    temperature: float
    text: str
    loss: float  # nats per character under the model (T = 1)
    distinct_4grams: float  # distinct 4-grams / 4-grams

    def row(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "loss_per_char": round(self.loss, 3),
            "distinct_4grams": round(self.distinct_4grams, 3),
            "text": self.text,
        }


def stdlib_docstrings(limit: int = 600_000) -> str:
    """The docstrings of the standard library's modules, classes and functions (offline)."""
    parts: list[str] = []
    size = 0
    for name in STDLIB:
        try:
            package = importlib.import_module(name)
        except ImportError:  # a minimal Python without one of them
            continue
        modules = [package]
        for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if not info.name.startswith("_") and "test" not in info.name:
                try:
                    modules.append(importlib.import_module(f"{name}.{info.name}"))
                except Exception:
                    continue
        for module in modules:
            for doc in _docstrings(module):
                parts.append(doc)
                size += len(doc)
                if size >= limit:
                    return "\n\n".join(parts)
    return "\n\n".join(parts)


def _docstrings(module: Any) -> list[str]:
    found = [inspect.getdoc(module) or ""]
    for _, member in inspect.getmembers(module):
        if (inspect.isclass(member) or inspect.isfunction(member)) and getattr(
            member, "__module__", None
        ) == module.__name__:
            found.append(inspect.getdoc(member) or "")
    return [doc for doc in found if len(doc) > 40]


def lesson_text(data_dir: str | None) -> tuple[str, str]:
    """``(text, where it came from)``: Tiny Shakespeare from ``data_dir`` (without one,
    $RNNKIT_DATA_DIR), else the standard library's docstrings."""
    import os

    for folder in (data_dir or os.environ.get("RNNKIT_DATA_DIR"),):
        if folder and (Path(folder) / "tinyshakespeare" / "input.txt").is_file():
            path = Path(folder) / "tinyshakespeare" / "input.txt"
            return path.read_text(encoding="utf-8"), str(path)
    return stdlib_docstrings(), "the Python standard library's docstrings"


def distinct_4grams(text: str) -> float:
    grams = [text[i : i + 4] for i in range(len(text) - 3)]
    return len(set(grams)) / len(grams) if grams else 0.0


def run_lesson(
    text: str,
    *,
    minutes: float = 1.0,
    prompt: str = "\n",
    max_tokens: int = 300,
    temperatures: tuple[float, ...] = TEMPERATURES,
    seed: int = 0,
    verbose: bool = False,
    device: str = "auto",
) -> tuple[list[Sample], dict[str, Any]]:
    """Train a character model for ``minutes`` on ``text`` (its last 10% for validation),
    then one sample per temperature from ``prompt``; and the model's validation scores."""
    from rnnkit.tasks.language_model.estimator import LanguageModel

    cut = int(len(text) * 0.9)
    lm = LanguageModel(
        unit="char",
        hidden=256,
        embed_dim=64,
        batch_size=32,
        window=64,
        lr=3e-3,
        dropout=0.0,
        max_minutes=minutes,
        seed=seed,
        verbose=verbose,
        device=device,
    ).fit([text[:cut]], [text[cut:]])
    samples = []
    for temperature in temperatures:
        written = lm.generate(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed)[0]
        scored = lm.evaluate([prompt + written]) if written else {"loss": math.nan}
        samples.append(Sample(temperature, written, scored["loss"], distinct_4grams(written)))
    return samples, lm.metrics_

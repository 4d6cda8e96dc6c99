"""Fixtures shared by the test suite: small generated labelled text, and an isolated cache."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import torch

FILLER = [
    *("the", "a", "film", "movie", "plot", "actors", "story", "scene"),
    *("was", "is", "it", "this", "and", "of", "to"),
]
CUES = {"pos": ["good", "great", "fine", "superb"], "neg": ["bad", "awful", "dull", "poor"]}

# A model small and short enough for unit tests that still learns the generated data.
TINY = {"embed_dim": 16, "hidden": 16, "epochs": 6, "batch_size": 8, "lr": 0.02, "seed": 0}


def make_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts of 3-12 filler words with one cue word that gives the label away."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.choices(FILLER, k=rng.randint(3, 12))
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def padded_batch(
    lengths: list[int], vocab_size: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids (T, B) below ``vocab_size``, 0 after each sequence's length, and the
    lengths (B,)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    tokens = torch.randint(1, vocab_size, (max(lengths), len(lengths)), generator=generator)
    tokens[torch.arange(max(lengths))[:, None] >= lengths_t[None, :]] = 0
    return tokens, lengths_t


def write_csv(path: Path, n: int, seed: int = 0) -> Path:
    texts, labels = make_texts(n, seed)
    lines = ["text,label", *(f'"{t}",{label}' for t, label in zip(texts, labels, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test's tokenization cache out of the user's home."""
    if "RNNKIT_CACHE_DIR" not in __import__("os").environ:
        monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))

"""Tokenized texts, stored compactly.

A :class:`Corpus` keeps each distinct token string once (``types``) and every text as a run of
int32 indices into them (``ids`` split by ``offsets``). Building a vocabulary is a bincount,
numericalizing is one array lookup, and the whole corpus saves to one ``.npz`` file without
pickle, which is what lets the cache (:mod:`rnnkit.data.cache`) skip reading and tokenizing.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.examples import LabeledTexts
from rnnkit.errors import DataError
from rnnkit.files import write_file
from rnnkit.text.tokenize import get_tokenizer
from rnnkit.text.vocab import UNK, Vocabulary

# Part of every cache file and cache key: bump it whenever the file's layout, a reader or a
# tokenizer changes what it holds, so that no run reuses tokens made by older code.
CACHE_FORMAT = 2


@dataclass
class Corpus:
    """Tokenized texts with their labels; ``ids[offsets[i]:offsets[i + 1]]`` is text ``i``."""

    types: list[str]
    ids: np.ndarray  # (total tokens,) int32 indices into types
    offsets: np.ndarray  # (n + 1,) int64
    labels: list[str]
    source: str = ""
    notes: list[str] = field(default_factory=list)  # what reading it reported, e.g. the format

    @classmethod
    def from_texts(
        cls, texts: Sequence[str], labels: Sequence[str], tokenizer: str = "word", source: str = ""
    ) -> Corpus:
        """Tokenize ``texts``; a text without tokens becomes the single token ``UNK``."""
        tokenize = get_tokenizer(tokenizer)
        index: dict[str, int] = {}
        ids = array("i")
        offsets = array("q", [0])
        for text in texts:
            tokens = tokenize(text) or [UNK]
            ids.extend([index.setdefault(token, len(index)) for token in tokens])
            offsets.append(len(ids))
        return cls(
            list(index),
            np.frombuffer(ids, dtype=np.int32).copy(),
            np.frombuffer(offsets, dtype=np.int64).copy(),
            list(labels),
            source,
        )

    @classmethod
    def from_labeled(cls, data: LabeledTexts, tokenizer: str = "word") -> Corpus:
        corpus = cls.from_texts(data.texts, data.labels, tokenizer, data.source)
        corpus.notes = list(data.notes)
        if data.skipped:
            corpus.notes.append(f"{data.source}: skipped {data.skipped} bad rows")
        return corpus

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def subset(self, indices: np.ndarray | Sequence[int]) -> Corpus:
        """The texts at ``indices``, in that order (token types are shared, not copied)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, ends = self.offsets[indices], self.offsets[indices + 1]
        lengths = ends - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # positions of every kept token: start of its text plus its position within the text
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
        ids = self.ids[np.repeat(starts, lengths) + within]
        return Corpus(self.types, ids, offsets, [self.labels[i] for i in indices], self.source)

    def token_counts(self) -> dict[str, int]:
        counts = np.bincount(self.ids, minlength=len(self.types))
        return {token: int(c) for token, c in zip(self.types, counts, strict=True) if c}

    def encode(self, vocab: Vocabulary) -> np.ndarray:
        """Vocabulary ids of all tokens, flat like ``ids`` (int64)."""
        lookup = np.fromiter(
            (vocab.index.get(token, vocab.unk_id) for token in self.types),
            dtype=np.int64,
            count=len(self.types),
        )
        encoded: np.ndarray = lookup[self.ids]
        return encoded

    def label_ids(self, classes: Sequence[str]) -> np.ndarray:
        """Index of each label in ``classes``; unknown labels are reported by name."""
        position = {label: i for i, label in enumerate(classes)}
        unknown: dict[str, int] = {}
        for label in self.labels:
            if label not in position:
                unknown[label] = unknown.get(label, 0) + 1
        if unknown:
            listed = ", ".join(f"{label!r} ({n} rows)" for label, n in sorted(unknown.items()))
            raise DataError(
                f"{self.source or 'the data'}: labels the model was not trained on: {listed}; "
                f"the model knows {', '.join(map(repr, classes))}"
            )
        return np.fromiter((position[label] for label in self.labels), np.int64, len(self.labels))

    # -- files -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write to ``path`` (.npz, no pickle) atomically; ``OSError`` as it comes."""
        meta = {
            "types": self.types,
            "labels": self.labels,
            "source": self.source,
            "notes": self.notes,
            "format": CACHE_FORMAT,
        }
        arrays: dict[str, Any] = {
            "ids": self.ids,
            "offsets": self.offsets,
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        }

        def write(staging: Path) -> None:
            with open(staging, "wb") as stream:  # a path would get ".npz" appended
                np.savez(stream, **arrays)

        write_file(path, write, output_error=False)

    @classmethod
    def load(cls, path: Path) -> Corpus:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes())
            if meta.get("format") != CACHE_FORMAT:
                raise ValueError(f"cache format {meta.get('format')}")
            return cls(
                meta["types"],
                data["ids"],
                data["offsets"],
                meta["labels"],
                meta["source"],
                meta["notes"],
            )

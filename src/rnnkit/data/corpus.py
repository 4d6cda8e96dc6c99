"""Tokenized texts, stored compactly.

A :class:`Corpus` keeps each distinct token string once (``types``) and every text as a run of
int32 indices into them (``ids`` split by ``offsets``). Building a vocabulary is a bincount,
numericalizing is one array lookup, and the whole corpus saves to one ``.npz`` file without
pickle, which is what lets the cache (:mod:`rnnkit.data.cache`) skip reading and tokenizing.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
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
CACHE_FORMAT = 3  # 3: optional labels, per-token tags


@dataclass
class Corpus:
    """Tokenized texts; ``ids[offsets[i]:offsets[i + 1]]`` is text ``i``.

    ``label_list`` holds one label per text, or None for unlabelled text (a language model's):
    then ``labels`` and ``label_ids`` raise ``DataError``. Per-token targets (a tagger's) are
    stored like the tokens: each distinct tag once (``tag_types``) and ``tags``, int32 indices
    into them aligned with ``ids``; None when the texts have none.
    """

    types: list[str]
    ids: np.ndarray  # (total tokens,) int32 indices into types
    offsets: np.ndarray  # (n + 1,) int64
    label_list: list[str] | None
    source: str = ""
    notes: list[str] = field(default_factory=list)  # what reading it reported, e.g. the format
    tag_types: list[str] | None = None
    tags: np.ndarray | None = None  # (total tokens,) int32 indices into tag_types

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        labels: Sequence[str] | None = None,
        tokenizer: str = "word",
        source: str = "",
    ) -> Corpus:
        """Tokenize ``texts``; a text without tokens becomes the single token ``UNK``."""
        tokenize = get_tokenizer(tokenizer)
        types, ids, offsets = _interned(tokenize(text) or [UNK] for text in texts)
        return cls(types, ids, offsets, _list(labels), source)

    @classmethod
    def from_tokens(
        cls,
        tokens: Sequence[Sequence[str]],
        labels: Sequence[str] | None = None,
        *,
        tags: Sequence[Sequence[str]] | None = None,
        source: str = "",
    ) -> Corpus:
        """Texts already split into ``tokens``, kept exactly as given (a treebank's own
        tokenization), with one tag per token in ``tags`` where given. An empty text becomes
        the single token ``UNK``, unless it is tagged, which is an error."""
        if tags is not None and list(map(len, tags)) != [len(words) or -1 for words in tokens]:
            raise ValueError("tags must give one tag per token of every (non-empty) text")
        types, ids, offsets = _interned(list(words) or [UNK] for words in tokens)
        corpus = cls(types, ids, offsets, _list(labels), source)
        if tags is not None:
            corpus.tag_types, corpus.tags, _ = _interned(tags)
        return corpus

    @classmethod
    def from_labeled(cls, data: LabeledTexts, tokenizer: str = "word") -> Corpus:
        """Tokenize what a reader read (or keep its tokens, where the file gave them)."""
        if data.tokens is not None:
            corpus = cls.from_tokens(data.tokens, data.labels, tags=data.tags, source=data.source)
        else:
            corpus = cls.from_texts(data.texts, data.labels, tokenizer, data.source)
        corpus.notes = list(data.notes)
        if data.skipped:
            corpus.notes.append(f"{data.source}: skipped {data.skipped} bad rows")
        return corpus

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def labelled(self) -> bool:
        return self.label_list is not None

    @property
    def labels(self) -> list[str]:
        """One label per text; ``DataError`` for unlabelled text."""
        if self.label_list is None:
            raise DataError(
                f"{self.source or 'the data'}: the texts have no labels (a text or CoNLL-U "
                "file, or read without a label column); a classifier needs labelled texts: "
                "CSV, TSV or JSON Lines with a label column, fastText, label-text, TREC, or "
                "one folder per class"
            )
        return self.label_list

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def subset(self, indices: np.ndarray | Sequence[int]) -> Corpus:
        """The texts at ``indices``, in that order (token and tag types are shared, not
        copied)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, ends = self.offsets[indices], self.offsets[indices + 1]
        lengths = ends - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # positions of every kept token: start of its text plus its position within the text
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
        positions = np.repeat(starts, lengths) + within
        labels = None if self.label_list is None else [self.label_list[i] for i in indices]
        return Corpus(
            self.types,
            self.ids[positions],
            offsets,
            labels,
            self.source,
            tag_types=self.tag_types,
            tags=None if self.tags is None else self.tags[positions],
        )

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
        return np.fromiter((position[label] for label in self.labels), np.int64, len(self))

    def tag_ids(self, tags: Sequence[str]) -> np.ndarray:
        """Index in ``tags`` of each token's tag, flat like ``ids`` (int64); unknown tags are
        reported by name."""
        where = self.source or "the data"
        if self.tag_types is None or self.tags is None:
            raise DataError(f"{where}: the texts have no per-token tags")
        position = {tag: i for i, tag in enumerate(tags)}
        lookup = np.array([position.get(tag, -1) for tag in self.tag_types], dtype=np.int64)
        counts = np.bincount(self.tags, minlength=len(self.tag_types))
        unknown = sorted(
            (self.tag_types[i], int(counts[i])) for i in np.flatnonzero((lookup < 0) & (counts > 0))
        )
        if unknown:
            listed = ", ".join(f"{tag!r} ({n} tokens)" for tag, n in unknown)
            raise DataError(
                f"{where}: tags the model was not trained on: {listed}; the model knows "
                f"{', '.join(map(repr, tags))}"
            )
        encoded: np.ndarray = lookup[self.tags]
        return encoded

    def tag_counts(self) -> dict[str, int]:
        """How many tokens carry each tag (empty when the texts have none)."""
        if self.tag_types is None or self.tags is None:
            return {}
        counts = np.bincount(self.tags, minlength=len(self.tag_types))
        return {tag: int(c) for tag, c in zip(self.tag_types, counts, strict=True) if c}

    # -- files -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write to ``path`` (.npz, no pickle) atomically; ``OSError`` as it comes."""
        meta = {
            "types": self.types,
            "labels": self.label_list,
            "tag_types": self.tag_types,
            "source": self.source,
            "notes": self.notes,
            "format": CACHE_FORMAT,
        }
        arrays: dict[str, Any] = {
            "ids": self.ids,
            "offsets": self.offsets,
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        }
        if self.tags is not None:
            arrays["tags"] = self.tags

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
                meta["tag_types"],
                data["tags"] if "tags" in data.files else None,
            )


def _list(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def _interned(texts: Iterable[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each distinct string once, every string's int32 index into them, and the int64 offsets
    where each text's indices start (and the last ends)."""
    index: dict[str, int] = {}
    ids = array("i")
    offsets = array("q", [0])
    for strings in texts:
        ids.extend([index.setdefault(s, len(index)) for s in strings])
        offsets.append(len(ids))
    return (
        list(index),
        np.frombuffer(ids, dtype=np.int32).copy(),
        np.frombuffer(offsets, dtype=np.int64).copy(),
    )

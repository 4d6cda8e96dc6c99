"""Texts as read from a file (with their labels, or per-token tags, where the file has them),
and the options that say how to read them."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rnnkit.errors import ConfigError, DataError

# The formats that give each text a label (what a classifier reads), then the others.
LABELLED_FORMATS = ("auto", "csv", "tsv", "jsonl", "fasttext", "label-text", "trec", "folder")
FORMATS = (*LABELLED_FORMATS, "text", "conllu")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a text file. Saved with a model, so every field is plain data."""

    format: str = "auto"  # one of FORMATS
    text_cols: tuple[str, ...] = ("text",)  # csv, tsv, jsonl: joined with a space
    label_col: str | None = "label"  # csv, tsv, jsonl (None: the texts have no labels)
    columns: tuple[str, ...] | None = None  # csv, tsv without a header row: the column names
    encoding: str = "utf-8"
    skip_bad_rows: bool = False
    fine_labels: bool = False  # trec: "NUM:date" instead of "NUM"
    classes: tuple[str, ...] | None = None  # folder: the class folders to read (default: all)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(
                f"unknown format {self.format!r}: choose one of {', '.join(FORMATS)}",
                field="format",
            )
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ConfigError(
                f"unknown encoding {self.encoding!r}: use a Python codec name such as utf-8 or "
                "latin-1",
                field="encoding",
            ) from None
        if not self.text_cols or not all(self.text_cols):
            raise ConfigError("text_cols needs at least one column name", field="text_cols")


@dataclass
class LabeledTexts:
    """Texts in file order, with their labels, or ``labels=None`` for unlabelled text (a language
    model's). ``tokens``: each text's tokens as the file splits them (CoNLL-U), which the corpus
    keeps instead of tokenizing ``texts`` again; ``tags``: one per token. ``skipped`` counts bad
    rows left out."""

    texts: list[str]
    labels: list[str] | None
    source: str
    skipped: int = 0
    format: str = ""
    notes: list[str] = field(default_factory=list)
    tokens: list[list[str]] | None = None
    tags: list[list[str]] | None = None

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.texts) != len(self.labels):
            raise ValueError("texts and labels differ in length")
        if self.tokens is not None and len(self.tokens) != len(self.texts):
            raise ValueError("texts and tokens differ in length")
        if self.tags is not None and (
            self.tokens is None or list(map(len, self.tags)) != list(map(len, self.tokens))
        ):
            raise ValueError("tags are not one per token")
        if not self.texts:
            kind = "labelled texts" if self.labels is not None else "texts"
            raise DataError(f"{self.source}: no {kind} found")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: Iterable[int]) -> LabeledTexts:
        """The rows at ``rows``, in that order (what reading reported is not carried over)."""
        index = [int(i) for i in rows]

        def pick(values: list[Any] | None) -> list[Any] | None:
            return None if values is None else [values[i] for i in index]

        return LabeledTexts(
            [self.texts[i] for i in index],
            pick(self.labels),
            self.source,
            tokens=pick(self.tokens),
            tags=pick(self.tags),
        )

"""Labelled texts as read from a file, and the options that say how to read them."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field

from rnnkit.errors import ConfigError, DataError

FORMATS = ("auto", "csv", "tsv", "jsonl", "fasttext", "label-text", "trec", "folder")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a labelled text file. Saved with a model, so every field is plain data."""

    format: str = "auto"  # one of FORMATS
    text_cols: tuple[str, ...] = ("text",)  # csv, tsv, jsonl: joined with a space
    label_col: str = "label"  # csv, tsv, jsonl
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
    """Texts and their labels, in file order. ``skipped`` counts bad rows left out."""

    texts: list[str]
    labels: list[str]
    source: str
    skipped: int = 0
    format: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError("texts and labels differ in length")
        if not self.texts:
            raise DataError(f"{self.source}: no labelled texts found")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: Iterable[int]) -> LabeledTexts:
        """The rows at ``rows``, in that order (what reading reported is not carried over)."""
        index = [int(i) for i in rows]
        return LabeledTexts(
            [self.texts[i] for i in index], [self.labels[i] for i in index], self.source
        )

"""From bytes to rows: decoding that names the line and byte of a bad one, reading a file
(decompressed when its name ends in .gz), splitting lines as the readers do, and the collector
that every reader adds its rows to."""

from __future__ import annotations

import csv
import gzip
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.errors import DataError

log = logging.getLogger(__name__)


def decode(data: bytes, encoding: str, source: str, *, numbered: bool = True) -> str:
    """Decode ``data``, naming the line (unless not ``numbered``: ``source`` names it) and
    byte of the first undecodable byte."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        where = f", line {line}" if numbered else ""
        byte = data[error.start]
        hint = (
            "; if the file uses another encoding, name it with --encoding "
            "(for example --encoding latin-1)"
        )
        raise DataError(
            f"{source}{where}: byte 0x{byte:02x} cannot be decoded as {encoding}{hint}"
        ) from None


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when its name ends in .gz."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(
            f"{path}: is a folder; use --format folder for one folder per class"
        ) from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    if not path.name.endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a readable gzip file ({error})") from None


class Collector:
    """Accumulates rows: (text, label), or text alone for unlabelled files (``labelled=False``),
    or a sentence of tokens and tags; a bad row raises or, with ``skip_bad_rows``, is counted."""

    def __init__(self, source: str, options: ReadOptions, *, labelled: bool = True) -> None:
        self.source = source
        self.skip = options.skip_bad_rows
        self.labelled = labelled
        self.texts: list[str] = []
        self.labels: list[str] = []
        self.tokens: list[list[str]] = []
        self.tags: list[list[str]] = []
        self.skipped = 0
        self.first_bad = ""

    def bad(self, where: str, problem: str) -> None:
        if not self.skip:
            raise DataError(
                f"{self.source}, {where}: {problem}; fix it, or pass --skip-bad-rows to leave "
                "such rows out"
            )
        self.skipped += 1
        self.first_bad = self.first_bad or f"{where}: {problem}"

    def add(self, text: str, label: str | None, where: str) -> None:
        text, label = text.strip(), (label or "").strip()
        if self.labelled and not label:
            self.bad(where, "missing label")
        elif not text:
            self.bad(where, "empty text")
        else:
            self.texts.append(text)
            self.labels.append(label)

    def add_tagged(self, tokens: list[str], tags: list[str]) -> None:
        """A sentence of ``tokens`` kept as given, with one tag per token (no label)."""
        self.texts.append(" ".join(tokens))
        self.tokens.append(tokens)
        self.tags.append(tags)

    def result(self, format: str) -> LabeledTexts:
        if self.skipped and not self.texts:
            raise DataError(
                f"{self.source}: every row ({self.skipped}) was bad and skipped; the first: "
                f"{self.first_bad}; check --format, --text-col and --label-col"
            )
        if self.skipped:  # a note of the corpus, which the command line prints
            log.debug("%s: skipped %d bad rows", self.source, self.skipped)
        tagged = bool(self.tags)
        return LabeledTexts(
            self.texts,
            self.labels if self.labelled else None,
            self.source,
            self.skipped,
            format,
            tokens=self.tokens if tagged else None,
            tags=self.tags if tagged else None,
        )


def split_lines(text: str) -> list[str]:
    """Lines ended by LF or CRLF only. ``str.splitlines`` would also split at characters such as
    NEL (U+0085), which Latin-1 files like MR's hold inside sentences."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def csv_rows(reader: Any, source: str) -> Iterator[tuple[int, list[str]]]:
    """The non-empty rows of the ``csv.reader`` ``reader``, each with the line it starts on
    (a quoted field may span lines); DataError naming the line of a malformed one."""
    line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(f"{source}, line {reader.line_num}: {error}") from None
        start, line = line + 1, reader.line_num
        if row:
            yield start, row


def file_lines(path: Path, options: ReadOptions) -> Iterator[tuple[int, str]]:
    """``numbered_lines`` of the file at ``path``, read with ``options.encoding``."""
    return numbered_lines(decode(read_bytes(path), options.encoding, str(path)))


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip():
            yield number, line

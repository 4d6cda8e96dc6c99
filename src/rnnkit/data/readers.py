"""Readers for labelled text files: CSV/TSV with a header, JSON Lines, fastText, ``label text``
lines, TREC questions, and one folder per class (see :mod:`rnnkit.data.folders`).

Every reader decodes the whole file first, so an undecodable byte is reported with its line, and
reports a malformed row with its file and line, unless ``skip_bad_rows`` is set, in which case
such rows are counted and left out.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.errors import DataError

log = logging.getLogger(__name__)

_TREC_LINE = re.compile(r"^[A-Z]+:\S+\s+\S")


def decode(data: bytes, encoding: str, source: str) -> str:
    """Decode ``data``, naming the line and byte of the first undecodable byte."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        hint = (
            "; if the file uses another encoding, name it with --encoding "
            "(for example --encoding latin-1)"
        )
        raise DataError(
            f"{source}, line {line}: byte 0x{byte:02x} cannot be decoded as {encoding}{hint}"
        ) from None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(
            f"{path}: is a folder; use --format folder for one folder per class"
        ) from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None


class Collector:
    """Accumulates (text, label) rows; a bad row raises or, with ``skip_bad_rows``, is counted."""

    def __init__(self, source: str, options: ReadOptions) -> None:
        self.source = source
        self.skip = options.skip_bad_rows
        self.texts: list[str] = []
        self.labels: list[str] = []
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

    def add(self, text: str, label: str, where: str) -> None:
        text, label = text.strip(), label.strip()
        if not label:
            self.bad(where, "missing label")
        elif not text:
            self.bad(where, "empty text")
        else:
            self.texts.append(text)
            self.labels.append(label)

    def result(self, format: str) -> LabeledTexts:
        if self.skipped and not self.texts:
            raise DataError(
                f"{self.source}: every row ({self.skipped}) was bad and skipped; the first: "
                f"{self.first_bad}; check --format, --text-col and --label-col"
            )
        if self.skipped:  # a note of the corpus, which the command line prints
            log.debug("%s: skipped %d bad rows", self.source, self.skipped)
        return LabeledTexts(self.texts, self.labels, self.source, self.skipped, format)


def split_lines(text: str) -> list[str]:
    """Lines ended by LF or CRLF only. ``str.splitlines`` would also split at characters such as
    NEL (U+0085), which Latin-1 files like MR's hold inside sentences."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip():
            yield number, line


def read_delimited(path: Path, options: ReadOptions, delimiter: str) -> LabeledTexts:
    """CSV or TSV; the first row names the columns unless ``options.columns`` does."""
    source = str(path)
    text = decode(read_bytes(path), options.encoding, source)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = list(options.columns) if options.columns else next(rows, None)
    if not header:
        raise DataError(f"{source}: the file is empty")
    header = [name.strip() for name in header]
    wanted = [*options.text_cols, options.label_col]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise DataError(
            f"{source}: no column {missing[0]!r} in the header (columns: {', '.join(header)}); "
            "choose the text columns with --text-col and the label column with --label-col"
        )
    text_index = [header.index(name) for name in options.text_cols]
    label_index = header.index(options.label_col)
    sink = Collector(source, options)
    line = rows.line_num
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            raise DataError(f"{source}, line {rows.line_num}: {error}") from None
        start, line = line + 1, rows.line_num
        if not row:
            continue
        if len(row) != len(header):
            sink.bad(f"line {start}", f"expected {len(header)} columns, found {len(row)}")
            continue
        sink.add(" ".join(row[i].strip() for i in text_index), row[label_index], f"line {start}")
    return sink.result("tsv" if delimiter == "\t" else "csv")


def read_jsonl(path: Path, options: ReadOptions) -> LabeledTexts:
    """One JSON object per line with the text and label fields."""
    source = str(path)
    sink = Collector(source, options)
    for number, line in _lines(decode(read_bytes(path), options.encoding, source)):
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            sink.bad(where, f"invalid JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            sink.bad(where, f"expected a JSON object, found {type(record).__name__}")
            continue
        missing = [name for name in (*options.text_cols, options.label_col) if name not in record]
        if missing and not options.skip_bad_rows and not sink.texts:  # the first record
            raise DataError(
                f"{source}, {where}: no field {missing[0]!r} (fields: {', '.join(record)}); name "
                "the text field(s) with --text-col and the label field with --label-col"
            )
        if missing:
            sink.bad(where, f"no field {missing[0]!r} (fields: {', '.join(record)})")
            continue
        text = " ".join(str(record[name]) for name in options.text_cols)
        label = record[options.label_col]
        sink.add(text, "" if label is None else str(label), where)
    return sink.result("jsonl")


def read_fasttext(path: Path, options: ReadOptions) -> LabeledTexts:
    """``__label__X text`` lines, as fastText reads them; the first label counts."""
    source = str(path)
    sink = Collector(source, options)
    for number, line in _lines(decode(read_bytes(path), options.encoding, source)):
        words = line.split()
        labels = [w for w in words if w.startswith("__label__")]
        text = " ".join(w for w in words if not w.startswith("__label__"))
        if not labels:
            sink.bad(f"line {number}", "no __label__ prefix")
            continue
        sink.add(text, labels[0][len("__label__") :], f"line {number}")
    return sink.result("fasttext")


def read_label_text(path: Path, options: ReadOptions) -> LabeledTexts:
    """``label text`` lines: the first word is the label (as in SST's stsa.* files)."""
    source = str(path)
    sink = Collector(source, options)
    for number, line in _lines(decode(read_bytes(path), options.encoding, source)):
        label, _, text = line.strip().partition(" ")
        sink.add(text, label, f"line {number}")
    return sink.result("label-text")


def read_trec(path: Path, options: ReadOptions) -> LabeledTexts:
    """``COARSE:fine question`` lines; coarse labels unless ``fine_labels``."""
    source = str(path)
    sink = Collector(source, options)
    for number, line in _lines(decode(read_bytes(path), options.encoding, source)):
        label, _, text = line.strip().partition(" ")
        coarse, colon, fine = label.partition(":")
        if not colon or not coarse or not fine:
            sink.bad(f"line {number}", f"expected a COARSE:fine label, found {label!r}")
            continue
        sink.add(text, label if options.fine_labels else coarse, f"line {number}")
    return sink.result("trec")


def detect_format(path: Path, encoding: str = "utf-8") -> tuple[str, str]:
    """Guess the format of ``path`` from its name and first line: ``(format, reason)``."""
    name = path.name.lower()
    if "#" in str(path) or name.endswith((".tar.gz", ".tgz")):
        return "folder", "a .tar.gz archive, read as one folder per class"
    if path.is_dir():
        return "folder", "a folder, read as one subfolder per class"
    for suffix, format in (
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
    ):
        if name.endswith(suffix):
            return format, f"the file name ends in {suffix}"
    with open(path, "rb") as stream:
        head = stream.read(65536).decode(encoding, errors="replace")
    first = next((line for line in split_lines(head) if line.strip()), "")
    if first.startswith("__label__"):
        return "fasttext", "the first line starts with __label__"
    if first.lstrip().startswith("{"):
        return "jsonl", "the first line is a JSON object"
    if _TREC_LINE.match(first):
        return "trec", "the first line starts with a COARSE:fine label"
    if "\t" in first:
        return "tsv", "the first line has tabs"
    label = first.split(" ", 1)[0]
    if len(label) <= 20 and " " in first.strip():
        return "label-text", "the first line starts with a short label and a space"
    return "csv", "no other format matched"


def read(path: str | Path, options: ReadOptions | None = None) -> LabeledTexts:
    """Read labelled texts from ``path`` in ``options.format`` (guessed when ``auto``)."""
    from rnnkit.data.folders import read_folder

    options = options or ReadOptions()
    path = Path(path)
    archive = Path(str(path).split("#", 1)[0])
    if not archive.exists():
        raise DataError(f"{archive}: no such file or folder")
    format = options.format
    note = ""
    if format == "auto":
        format, reason = detect_format(path, options.encoding)
        note = f"{path}: reading as {format} ({reason}); set --format to override"
        log.debug(note)  # a note of the corpus, which the command line prints
    readers: dict[str, Callable[[Path, ReadOptions], LabeledTexts]] = {
        "csv": lambda p, o: read_delimited(p, o, ","),
        "tsv": lambda p, o: read_delimited(p, o, "\t"),
        "jsonl": read_jsonl,
        "fasttext": read_fasttext,
        "label-text": read_label_text,
        "trec": read_trec,
        "folder": read_folder,
    }
    result = readers[format](path, options)
    if note:
        result.notes.append(note)
    return result

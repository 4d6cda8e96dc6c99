"""Reading a text file in its format: the format named, or guessed from the file's name and
first line (the guess becomes a note of what was read), then its reader.

Every reader decodes the whole file first, so an undecodable byte is reported with its line, and
reports a malformed row with its file and line, unless ``skip_bad_rows`` is set, in which case
such rows are counted and left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from rnnkit.data.conllu import read_conllu
from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.data.folders import read_folder
from rnnkit.data.readers import (
    read_delimited,
    read_fasttext,
    read_jsonl,
    read_label_text,
    read_text,
    read_trec,
)
from rnnkit.data.rows import split_lines
from rnnkit.errors import DataError

log = logging.getLogger(__name__)

_TREC_LINE = re.compile(r"^[A-Z]+:\S+\s+\S")

# The file names whose ending decides the format.
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".conllu": "conllu",
}


def detect_format(path: Path, encoding: str = "utf-8") -> tuple[str, str]:
    """Guess the format of ``path`` from its name and first line: ``(format, reason)``."""
    name = path.name.lower()
    if "#" in str(path) or name.endswith((".tar.gz", ".tgz")):
        return "folder", "a .tar.gz archive, read as one folder per class"
    if path.is_dir():
        return "folder", "a folder, read as one subfolder per class"
    for suffix, format in EXTENSIONS.items():
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
    """Read the texts of ``path`` in ``options.format`` (guessed when ``auto``)."""
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
        "text": read_text,
        "conllu": read_conllu,
    }
    result = readers[format](path, options)
    if note:
        result.notes.append(note)
    return result

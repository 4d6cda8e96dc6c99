"""Readers of text files with one text per row: CSV/TSV with a header and JSON Lines (labelled,
or not with ``label_col=None``), fastText, ``label text`` lines, TREC questions, and plain text
(one unlabelled text per line). (One folder per class: :mod:`rnnkit.data.folders`;
CoNLL-U: :mod:`rnnkit.data.conllu`; choosing the reader: :mod:`rnnkit.data.reading`.)

Every reader decodes the whole file first, so an undecodable byte is reported with its line, and
reports a malformed row with its file and line, unless ``skip_bad_rows`` is set, in which case
such rows are counted and left out.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.data.rows import Collector, csv_rows, decode, file_lines, read_bytes
from rnnkit.errors import DataError


def read_delimited(path: Path, options: ReadOptions, delimiter: str) -> LabeledTexts:
    """CSV or TSV; the first row names the columns unless ``options.columns`` does."""
    source = str(path)
    text = decode(read_bytes(path), options.encoding, source)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = list(options.columns) if options.columns else next(rows, None)
    if not header:
        raise DataError(f"{source}: the file is empty")
    header = [name.strip() for name in header]
    label_col = options.label_col
    wanted = [*options.text_cols, *([label_col] if label_col is not None else [])]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise DataError(
            f"{source}: no column {missing[0]!r} in the header (columns: {', '.join(header)}); "
            "choose the text columns with --text-col and the label column with --label-col"
        )
    text_index = [header.index(name) for name in options.text_cols]
    label_index = header.index(label_col) if label_col is not None else None
    sink = Collector(source, options, labelled=label_col is not None)
    for start, row in csv_rows(rows, source):
        if len(row) != len(header):
            sink.bad(f"line {start}", f"expected {len(header)} columns, found {len(row)}")
            continue
        label = row[label_index] if label_index is not None else None
        sink.add(" ".join(row[i].strip() for i in text_index), label, f"line {start}")
    return sink.result("tsv" if delimiter == "\t" else "csv")


def read_jsonl(path: Path, options: ReadOptions) -> LabeledTexts:
    """One JSON object per line with the text and label fields."""
    source = str(path)
    label_col = options.label_col
    fields = [*options.text_cols, *([label_col] if label_col is not None else [])]
    sink = Collector(source, options, labelled=label_col is not None)
    for number, line in file_lines(path, options):
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            sink.bad(where, f"invalid JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            sink.bad(where, f"expected a JSON object, found {type(record).__name__}")
            continue
        missing = [name for name in fields if name not in record]
        if missing and not options.skip_bad_rows and not sink.texts:  # the first record
            raise DataError(
                f"{source}, {where}: no field {missing[0]!r} (fields: {', '.join(record)}); name "
                "the text field(s) with --text-col and the label field with --label-col"
            )
        if missing:
            sink.bad(where, f"no field {missing[0]!r} (fields: {', '.join(record)})")
            continue
        text = " ".join(str(record[name]) for name in options.text_cols)
        label = record[label_col] if label_col is not None else None
        sink.add(text, "" if label is None else str(label), where)
    return sink.result("jsonl")


def read_fasttext(path: Path, options: ReadOptions) -> LabeledTexts:
    """``__label__X text`` lines, as fastText reads them; the first label counts."""
    sink = Collector(str(path), options)
    for number, line in file_lines(path, options):
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
    sink = Collector(str(path), options)
    for number, line in file_lines(path, options):
        label, _, text = line.strip().partition(" ")
        sink.add(text, label, f"line {number}")
    return sink.result("label-text")


def read_trec(path: Path, options: ReadOptions) -> LabeledTexts:
    """``COARSE:fine question`` lines; coarse labels unless ``fine_labels``."""
    sink = Collector(str(path), options)
    for number, line in file_lines(path, options):
        label, _, text = line.strip().partition(" ")
        coarse, colon, fine = label.partition(":")
        if not colon or not coarse or not fine:
            sink.bad(f"line {number}", f"expected a COARSE:fine label, found {label!r}")
            continue
        sink.add(text, label if options.fine_labels else coarse, f"line {number}")
    return sink.result("trec")


def read_text(path: Path, options: ReadOptions) -> LabeledTexts:
    """One unlabelled text per non-blank line (a language model's corpus)."""
    sink = Collector(str(path), options, labelled=False)
    for number, line in file_lines(path, options):
        sink.add(line, None, f"line {number}")
    return sink.result("text")

"""Sentence pairs for translation: two line-aligned files, a CSV or TSV file with two columns,
JSON Lines with two fields, or the named dataset ``multi30k``.

- ``SRC_FILE TGT_FILE``: line N of one translates line N of the other (``.gz`` files are
  decompressed); different line counts are an error that names both counts.
- ``.csv``/``.tsv``: the source then the target column; with ``source`` and ``target`` given
  and a first row that holds both names, that row is a header and names the columns.
- ``.jsonl``/``.json`` (one object a line): the fields named ``source`` and ``target`` (by
  default ``"source"`` and ``"target"``).
- ``multi30k``: Multi30k (WMT16 multimodal task 1), 29,000 image descriptions in English with
  German translations; ``source`` and ``target`` are ``de`` and ``en`` in either order; its
  ``val`` and ``test_2016_flickr`` splits come with it.

A pair with an empty side is an error naming the file and line, unless ``skip_bad_rows``
leaves such pairs out (counted, and reported by the caller).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.registry import RemoteFile
from rnnkit.data.rows import csv_rows, decode, read_bytes, split_lines
from rnnkit.errors import ConfigError, DataError
from rnnkit.plural import counted

log = logging.getLogger(__name__)

MULTI30K = "multi30k"
_MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
_MULTI30K_SHA256 = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
}
MULTI30K_FILES = tuple(
    RemoteFile(name, _MULTI30K_URL + name, f"sha256:{digest}")
    for name, digest in _MULTI30K_SHA256.items()
)
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
MULTI30K_LANGUAGES = ("de", "en")
PAIR_DATASETS = (MULTI30K,)


@dataclass(frozen=True)
class Pairs:
    """Aligned ``source`` and ``target`` sentences, read from ``name``; ``skipped`` pairs with
    an empty side were left out."""

    source: list[str]
    target: list[str]
    name: str
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.source)


@dataclass(frozen=True)
class PairSplits:
    train: Pairs
    valid: Pairs | None = None
    test: Pairs | None = None


def read_pairs(
    paths: Sequence[str | Path],
    *,
    source: str | None = None,
    target: str | None = None,
    encoding: str = "utf-8",
    skip_bad_rows: bool = False,
    header: str = "required",
) -> Pairs:
    """The pairs of two line-aligned files, or of one CSV, TSV or JSON Lines file. ``source``
    and ``target`` name a CSV/TSV file's columns (its first row must be the header that holds
    them; with ``header="optional"``, a first row without them is read as a pair) or a JSON
    Lines file's fields."""
    if len(paths) == 2:
        return _aligned(Path(paths[0]), Path(paths[1]), encoding, skip_bad_rows)
    if len(paths) != 1:
        raise ConfigError(
            f"give one file of pairs (CSV, TSV, JSON Lines) or two line-aligned files (source, "
            f"target), got {len(paths)}"
        )
    path = Path(paths[0])
    name = path.name.removesuffix(".gz").lower()
    text = decode(read_bytes(path), encoding, str(path))
    if name.endswith((".jsonl", ".json", ".ndjson")):
        rows = _json_rows(text, str(path), source or "source", target or "target")
    elif name.endswith((".tsv", ".csv")):
        delimiter = "\t" if name.endswith(".tsv") else ","
        names = (source, target) if source or target else None
        rows = _delimited_rows(text, str(path), delimiter, names, header == "required")
    else:
        raise DataError(
            f"{path}: give two line-aligned files (source, target), or a .csv, .tsv or .jsonl "
            "file of pairs"
        )
    return _collected(rows, str(path), skip_bad_rows)


def _aligned(first: Path, second: Path, encoding: str, skip: bool) -> Pairs:
    sides = [_lines(decode(read_bytes(p), encoding, str(p))) for p in (first, second)]
    if len(sides[0]) != len(sides[1]):
        raise DataError(
            f"{first} has {len(sides[0]):,} lines and {second} has {len(sides[1]):,}: "
            "line-aligned files must have one line per sentence, the same count on both sides"
        )
    rows = []
    for number, (left, right) in enumerate(zip(*sides, strict=True), start=1):
        where = f"{first if not left.strip() else second}, line {number}"
        rows.append((left, right, where))
    return _collected(rows, f"{first} and {second}", skip)


def _lines(text: str) -> list[str]:
    lines = split_lines(text)
    return lines[:-1] if lines and lines[-1] == "" else lines  # the final line break


def _json_rows(text: str, source: str, src: str, tgt: str) -> list[tuple[str, str, str]]:
    rows = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not valid JSON ({error.msg})") from None
        missing = [f for f in (src, tgt) if not isinstance(row, dict) or f not in row]
        if missing:
            raise DataError(
                f"{where}: no field {missing[0]!r}; name the fields with --source and --target"
            )
        values = [row[src], row[tgt]]
        if not all(isinstance(v, str) for v in values):
            raise DataError(f"{where}: the fields {src!r} and {tgt!r} must be strings")
        rows.append((values[0], values[1], where))
    return rows


def _delimited_rows(
    text: str,
    source: str,
    delimiter: str,
    names: tuple[str | None, str | None] | None,
    required: bool,
) -> list[tuple[str, str, str]]:
    """The rows of a CSV/TSV file: the first two columns, or the columns ``names`` (source,
    target) of its header, which the first row must then be (unless not ``required``)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, columns, wide, first = [], (0, 1), 2, True
    if names is None:
        log.info(
            "%s: the first two columns are the source and the target, from the first row on "
            "(a header is read as one when --source and --target name its columns)",
            source,
        )
    for start, row in csv_rows(reader, source):
        if first and names is not None:
            first = False
            header = [cell.strip() for cell in row]
            missing = [n for n in names if n is None or n not in header]
            if not missing:  # a header naming the columns
                columns, wide = (header.index(str(names[0])), header.index(str(names[1]))), len(row)
                continue
            if required:
                raise DataError(_no_column(source, start, names, header))
        first = False
        if len(row) != wide:
            raise DataError(
                f"{source}, line {start}: expected {wide} columns (source, target), found "
                f"{len(row)}"
            )
        rows.append((row[columns[0]], row[columns[1]], f"{source}, line {start}"))
    return rows


def _no_column(
    source: str, line: int, names: tuple[str | None, str | None], header: list[str]
) -> str:
    """The message for a CSV/TSV file whose first row lacks a column that --source or
    --target names."""
    columns = ", ".join(map(repr, header))
    if None in names:
        given, other = ("source", "target") if names[1] is None else ("target", "source")
        return (
            f"{source}: --{given} names a column; name the --{other} column too (the first "
            f"row has {columns})"
        )
    missing = next(name for name in names if name not in header)
    return (
        f"{source}, line {line}: no column {missing!r} in the header (the first row has "
        f"{columns}); give --source and --target as the header names them, or leave both out "
        "to read the first two columns of a file without a header"
    )


def _collected(rows: list[tuple[str, str, str]], name: str, skip: bool) -> Pairs:
    sources, targets, skipped = [], [], 0
    for left, right, where in rows:
        left, right = left.strip(), right.strip()
        if not left or not right:
            if not skip:
                side = "source" if not left else "target"
                raise DataError(
                    f"{where}: the {side} sentence is empty; fix it, or pass --skip-bad-rows to "
                    "leave such pairs out"
                )
            skipped += 1
            continue
        sources.append(left)
        targets.append(right)
    if not sources:
        raise DataError(f"{name}: no sentence pairs")
    return Pairs(sources, targets, name, skipped)


def hold_out(
    source: list[str], target: list[str], fraction: float, seed: int
) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """A seeded ``fraction`` of the pairs (at least one) held out for validation."""
    order = np.random.default_rng([seed, 7]).permutation(len(source))
    count = max(1, round(fraction * len(source)))
    if count >= len(source):
        raise ConfigError(
            f"valid_split {fraction} leaves no training pairs out of {len(source)}",
            field="valid_split",
        )
    held, kept = sorted(order[:count]), sorted(order[count:])
    return (
        ([source[i] for i in kept], [target[i] for i in kept]),
        ([source[i] for i in held], [target[i] for i in held]),
    )


def load_multi30k(
    data_dir: str | Path | None, source: str = "de", target: str = "en"
) -> PairSplits:
    """Multi30k's train, val and test_2016_flickr pairs from ``source`` to ``target``."""
    from rnnkit.data.download import locate_files

    languages = (source, target)
    if sorted(languages) != sorted(MULTI30K_LANGUAGES):
        raise ConfigError(
            f"multi30k pairs de and en: give --source de --target en or the reverse, got "
            f"{source} and {target}",
            field="source",
        )
    folder = locate_files(MULTI30K, MULTI30K_FILES, data_dir)
    splits = {}
    for split, stem in MULTI30K_SPLITS.items():
        files = [folder / f"{stem}.{language}.gz" for language in languages]
        pairs = read_pairs(files)
        splits[split] = Pairs(pairs.source, pairs.target, f"{MULTI30K} {stem}")
    return PairSplits(splits["train"], splits["valid"], splits["test"])


def load_pairs(
    data: Sequence[str],
    *,
    source: str | None = None,
    target: str | None = None,
    data_dir: str | Path | None = None,
    encoding: str = "utf-8",
    skip_bad_rows: bool = False,
    recorded: tuple[str | None, str | None] = (None, None),
) -> PairSplits:
    """A named dataset's splits, or the pairs of the files ``data`` (train only). ``recorded``:
    the languages (columns, fields) a model was trained on, used where ``source`` and ``target``
    are not given: for a named dataset or JSON Lines, as if given; for a CSV/TSV file, when its
    first row is a header that holds them."""
    given = source is not None or target is not None
    if not given:
        source, target = recorded
    if is_named(data):
        return load_multi30k(data_dir, source or "de", target or "en")
    pairs = read_pairs(
        data,
        source=source,
        target=target,
        encoding=encoding,
        skip_bad_rows=skip_bad_rows,
        header="required" if given else "optional",
    )
    if pairs.skipped:
        log.warning(
            "%s: left out %s with an empty side", pairs.name, counted(pairs.skipped, "pair")
        )
    return PairSplits(pairs)


def is_named(data: Sequence[str]) -> bool:
    """Whether ``data`` is a named dataset of pairs (and no file of that name)."""
    return len(data) == 1 and data[0] in PAIR_DATASETS and not Path(data[0]).exists()


def dataset_languages(data: Sequence[str]) -> tuple[str, ...] | None:
    """The languages of the named dataset ``data`` (either may be the source), or None for
    files."""
    return MULTI30K_LANGUAGES if is_named(data) else None


def pair_names(
    data: Sequence[str], source: str | None, target: str | None, *, fields: bool = True
) -> tuple[str | None, str | None]:
    """The languages (columns, fields) pairs read from ``data`` with ``--source`` and
    ``--target`` are in: multi30k's defaults de and en, else what was given, and with
    ``fields`` the JSON Lines fields read by default (source, target)."""
    if is_named(data):
        return source or "de", target or "en"
    name = str(data[0]).removesuffix(".gz").lower() if len(data) == 1 else ""
    if fields and name.endswith((".jsonl", ".json", ".ndjson")):
        return source or "source", target or "target"
    return source, target

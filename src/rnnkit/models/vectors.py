"""Pretrained word vectors from GloVe or word2vec text files, matched to a vocabulary."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.rows import read_bytes
from rnnkit.errors import DataError
from rnnkit.text.vocab import Vocabulary

log = logging.getLogger(__name__)


@dataclass
class Vectors:
    """Rows for the vocabulary (found words filled, others None) and how many were found."""

    dim: int
    rows: dict[int, np.ndarray]  # vocabulary id -> vector
    found: int
    wanted: int

    @property
    def coverage(self) -> float:
        return self.found / self.wanted if self.wanted else 0.0


def load_vectors(
    path: str | Path,
    vocab: Vocabulary,
    *,
    encoding: str = "utf-8",
    counts: Mapping[str, int] | None = None,
) -> Vectors:
    """Read ``word v1 v2 ...`` lines (GloVe), optionally after a ``count dim`` header
    (word2vec text format), keeping the words of ``vocab``. A word missing in its exact
    form is looked up lower-cased. A word listed twice keeps its first vector (the files list
    words from the most frequent); how many were skipped is logged. ``counts`` (the training
    text's tokens and how often each occurs): the coverage is reported for them, which is what
    the model meets, rather than for the vocabulary (which ``vector_words`` may have filled
    from the file itself)."""
    wanted = {token: i for i, token in enumerate(vocab.tokens) if i > 1}
    rows: dict[int, np.ndarray] = {}
    seen: set[bytes] = set()
    duplicates = 0
    dim = 0
    for number, parts in _lines(path, encoding):
        if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            dim = int(parts[1])  # word2vec header: count dim
            continue
        if len(parts) < 2:
            continue
        if dim == 0:
            dim = len(parts) - 1
        if len(parts) - 1 != dim:
            raise DataError(
                f"{path}, line {number}: expected {dim} numbers after the word, "
                f"found {len(parts) - 1}"
            )
        word = parts[0]
        key = word.encode(encoding, errors="surrogatepass")
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        index = wanted.get(word)
        if index is None:  # the lower-cased word's, unless that has one already
            index = wanted.get(word.lower())
            if index is None or index in rows:
                continue
        rows[index] = _vector(parts[1:], path, number)
    if dim == 0:
        raise DataError(f"{path}: no vectors found (expected lines of a word and numbers)")
    if duplicates:
        log.warning(
            "%s: %s word%s listed more than once; each keeps its first vector",
            path,
            f"{duplicates:,}",
            "s are" if duplicates > 1 else " is",
        )
    vectors = Vectors(dim, rows, len(rows), len(wanted))
    _log_coverage(path, vocab, vectors, counts)
    return vectors


def _lines(path: str | Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """The number of each line of the vectors file and its fields (split at spaces)."""
    for number, raw in enumerate(vector_bytes(path).splitlines(), start=1):
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError:
            raise DataError(
                f"{path}, line {number}: cannot be decoded as {encoding}; word vectors files "
                f"are read as {encoding} text: convert it first, e.g. iconv -f latin-1 -t "
                f"{encoding} FILE > FILE.{encoding}"
            ) from None
        yield number, line.rstrip().split(" ")


def _vector(values: list[str], path: str | Path, number: int) -> np.ndarray:
    """The numbers of line ``number`` as float32; a value that is not a finite number is an
    error naming the line."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a value past float32's range: inf
            vector = np.asarray(values, dtype=np.float32)
    except ValueError:
        raise DataError(
            f"{path}, line {number}: the vector holds a value that is not a number"
        ) from None
    if not np.isfinite(vector).all():
        bad = values[int(np.flatnonzero(~np.isfinite(vector))[0])]
        raise DataError(
            f"{path}, line {number}: the vector holds {bad!r}, which is not a finite number "
            "(or overflows float32); fix or remove the line"
        )
    return vector


def _log_coverage(
    path: str | Path, vocab: Vocabulary, vectors: Vectors, counts: Mapping[str, int] | None
) -> None:
    """How much of the training text (``counts``) has a vector: its word types, and its
    tokens; without ``counts``, how much of the vocabulary."""
    rows, dim = vectors.rows, vectors.dim
    if counts is None:
        log.info(
            "%s: %d of %d vocabulary words have a vector (%.1f%% coverage), dimension %d",
            path,
            vectors.found,
            vectors.wanted,
            100 * vectors.coverage,
            dim,
        )
        return
    types = tokens = covered_types = covered_tokens = 0
    for token, count in counts.items():
        types += 1
        tokens += count
        if vocab.index.get(token) in rows:
            covered_types += 1
            covered_tokens += count
    log.info(
        "%s: %s of the %s word types of the training texts have a vector (%.1f%%), %.1f%% of "
        "their %s tokens; dimension %d",
        path,
        f"{covered_types:,}",
        f"{types:,}",
        100 * covered_types / max(types, 1),
        100 * covered_tokens / max(tokens, 1),
        f"{tokens:,}",
        dim,
    )


def vector_words(path: str | Path, vocab: Vocabulary, count: int) -> Vocabulary:
    """``vocab`` and, after its words, the first ``count`` words of the vectors file in
    ``path`` that it lacks (GloVe and word2vec list them from the most frequent), so that a
    word the training texts never held often enough still reads as its pretrained vector."""
    added: dict[str, None] = {}  # in file order, each word once
    for number, raw in enumerate(vector_bytes(path).splitlines(), start=1):
        if len(added) >= count:
            break
        parts = raw.split()
        if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue  # word2vec header: count dim
        word = parts[0].decode("utf-8", errors="replace") if parts else ""
        if word and word not in vocab.index:
            added[word] = None
    log.info(
        "vocabulary: %s word%s of %s added (--vectors-vocab)",
        f"{len(added):,}",
        "" if len(added) == 1 else "s",
        path,
    )
    return Vocabulary([*vocab.tokens, *added])


def copy_vectors(weight: Tensor, rows: dict[int, np.ndarray]) -> None:
    """Copy pretrained rows into the embedding matrix ``weight`` (in place); the other rows get
    random values of their scale, and row 0 (padding) zeros."""
    with torch.no_grad():
        found = torch.from_numpy(np.stack(list(rows.values())))
        weight.normal_(0.0, float(found.std()))
        weight[torch.tensor(list(rows))] = found
        weight[0] = 0.0


def vectors_dim(path: str | Path) -> int:
    """The dimension of the vectors in ``path`` (its first vector line, or a word2vec header)."""
    for number, raw in enumerate(vector_bytes(path).splitlines(), start=1):
        parts = raw.split()
        if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            return int(parts[1])
        if len(parts) >= 2:
            return len(parts) - 1
    raise DataError(f"{path}: no vectors found (expected lines of a word and numbers)")


def vector_bytes(path: str | Path) -> bytes:
    """The bytes of a vectors file: text, ``.gz``, or a ``.zip`` of one file (``ARCHIVE.zip#NAME``
    picks one of several, as GloVe's archives hold)."""
    archive, _, member = str(path).partition("#")
    if not archive.endswith(".zip"):
        return read_bytes(Path(path))
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = [n for n in zipped.namelist() if not n.endswith("/")]
            if not member and len(names) == 1:
                member = names[0]
            if member not in names:
                listed = ", ".join(names[:10])
                raise DataError(
                    f"{archive}: name the vectors file inside it as {archive}#NAME "
                    f"(it holds {listed})"
                )
            return zipped.read(member)
    except FileNotFoundError:
        raise DataError(f"{archive}: no such file") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{archive}: not a readable zip file ({error})") from None

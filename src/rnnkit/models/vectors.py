"""Pretrained word vectors from GloVe or word2vec text files, matched to a vocabulary."""

from __future__ import annotations

import logging
import zipfile
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


def load_vectors(path: str | Path, vocab: Vocabulary, *, encoding: str = "utf-8") -> Vectors:
    """Read ``word v1 v2 ...`` lines (GloVe), optionally after a ``count dim`` header
    (word2vec text format), keeping the words of ``vocab``. A word missing in its exact
    form is looked up lower-cased."""
    data = vector_bytes(path)
    wanted = {token: i for i, token in enumerate(vocab.tokens) if i > 1}
    rows: dict[int, np.ndarray] = {}
    dim = 0
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError:
            raise DataError(
                f"{path}, line {number}: cannot be decoded as {encoding}; pass the file's "
                "encoding with --vectors-encoding"
            ) from None
        parts = line.rstrip().split(" ")
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
        index = wanted.get(word)
        if index is None:
            index = wanted.get(word.lower())
            if index is None or index in rows:
                continue
        try:
            rows[index] = np.asarray(parts[1:], dtype=np.float32)
        except ValueError:
            raise DataError(
                f"{path}, line {number}: the vector holds a value that is not a number"
            ) from None
    if dim == 0:
        raise DataError(f"{path}: no vectors found (expected lines of a word and numbers)")
    vectors = Vectors(dim, rows, len(rows), len(wanted))
    log.info(
        "%s: %d of %d vocabulary words have a vector (%.1f%% coverage), dimension %d",
        path,
        vectors.found,
        vectors.wanted,
        100 * vectors.coverage,
        dim,
    )
    return vectors


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
    log.info("vocabulary: %d words added from %s", len(added), path)
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

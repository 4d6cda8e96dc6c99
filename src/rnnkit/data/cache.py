"""The token cache: a corpus saved under a key of what made it, so that a second run on the same
file (or named dataset) reads neither the file nor the tokenizer."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnnkit.data import reading
from rnnkit.data.corpus import CACHE_FORMAT, Corpus
from rnnkit.data.examples import ReadOptions
from rnnkit.errors import DataError
from rnnkit.files import cause

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$RNNKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``."""
    if os.environ.get("RNNKIT_CACHE_DIR"):
        return Path(os.environ["RNNKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnkit"


def file_signature(path: Path) -> list[Any]:
    """Path, size and modification time of a file, or of every file under a folder."""
    path = path.resolve()
    if path.is_dir():
        return [file_signature(p) for p in sorted(path.rglob("*")) if p.is_file()]
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def cached(key: Mapping[str, Any], build: Callable[[], Corpus], *, enabled: bool = True) -> Corpus:
    """``build()``, or its result from an earlier call with the same ``key``."""
    if not enabled:
        return build()
    text = json.dumps({**key, "cache_format": CACHE_FORMAT}, sort_keys=True, default=str)
    path = cache_dir() / "corpora" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.npz"
    if path.exists():
        try:
            corpus = Corpus.load(path)
            log.debug("loaded tokenized data from the cache %s", path)
            return corpus
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring the unreadable cache file %s (%s)", path, error)
    corpus = build()
    try:
        corpus.save(path)
    except OSError as error:
        log.warning(
            "could not write the token cache file %s (%s); going on without it", path, cause(error)
        )
    return corpus


def load_corpus(
    path: str | Path, options: ReadOptions, tokenizer: str = "word", *, cache: bool = True
) -> Corpus:
    """Read and tokenize a labelled file, through the cache."""
    location = Path(str(path).split("#", 1)[0])
    if not location.exists():
        raise DataError(f"{location}: no such file or folder")
    key = {
        "kind": "file",
        "path": str(path),
        "files": file_signature(location),
        "options": asdict(options),
        "tokenizer": tokenizer,
    }
    return cached(
        key, lambda: Corpus.from_labeled(reading.read(path, options), tokenizer), enabled=cache
    )

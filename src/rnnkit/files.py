"""Writing folders so that a crash never leaves a half-written one where a good one was."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_folder(path: Path, write: Callable[[Path], None], *, keep: tuple[str, ...] = ()) -> Path:
    """Call ``write(staging)`` on a fresh folder beside ``path``, then rename it to ``path``,
    replacing what was there. Entries named in ``keep`` move from the old folder to the new
    one (the checkpoints inside a model folder survive the bundle written over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        write(staging)
        if path.exists():
            for name in keep:
                if (path / name).exists() and not (staging / name).exists():
                    os.rename(path / name, staging / name)
            previous = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.rename(path, previous)
            os.rename(staging, path)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def leftovers(path: Path) -> list[Path]:
    """Folders an interrupted ``write_folder(path, ...)`` can leave beside ``path``: the new
    one not yet renamed into place, or the previous one not yet deleted."""
    pattern = [f".{path.name}.tmp-*", f".{path.name}.old-*"]
    return sorted(p for glob in pattern for p in path.parent.glob(glob) if p.is_dir())


def leftover_hint(path: Path, inner: str = "") -> str:
    """A sentence naming the leftovers of ``path`` that hold ``inner`` (or ``""``)."""
    found = [p for p in leftovers(path) if (p / inner).exists()]
    if not found:
        return ""
    return (
        f"; an interrupted save left {', '.join(str(p / inner) for p in found)}: move it back "
        f"to {path / inner}"
    )

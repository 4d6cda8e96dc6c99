"""One folder per class, one text per file: a plain folder, or a folder inside a .tar.gz archive.

``PATH`` is a folder whose subfolders are the classes, or ``ARCHIVE.tar.gz`` (when the classes
are its top folders, or the top folders of its single top folder), or ``ARCHIVE.tar.gz#INNER``
naming the folder inside the archive that holds the class folders, as in
``aclImdb_v1.tar.gz#aclImdb/train`` for IMDB.
"""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path, PurePosixPath

from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.data.rows import Collector, decode
from rnnkit.errors import DataError


def read_folder(path: Path, options: ReadOptions) -> LabeledTexts:
    location, _, inner = str(path).partition("#")
    base = Path(location)
    if base.is_dir():
        return _from_directory(base / inner if inner else base, options)
    if not tarfile.is_tarfile(base):
        raise DataError(
            f"{base}: expected a folder with one subfolder per class or a .tar.gz archive of one"
        )
    return _from_archive(base, inner.strip("/"), options)


def _select(found: list[str], options: ReadOptions, source: str) -> list[str]:
    if options.classes is None:
        return found
    missing = [name for name in options.classes if name not in found]
    if missing:
        raise DataError(
            f"{source}: no class folder {missing[0]!r} (class folders: {', '.join(found)})"
        )
    return list(options.classes)


def _from_directory(root: Path, options: ReadOptions) -> LabeledTexts:
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = _select(found, options, str(root))
    sink = Collector(str(root), options)
    for label in classes:
        files = sorted(
            p for p in (root / label).iterdir() if p.is_file() and not p.name.startswith(".")
        )
        for file in files:
            text = decode(file.read_bytes(), options.encoding, str(file))
            sink.add(text, label, f"file {label}/{file.name}")
    if not sink.texts and not sink.skipped:
        raise DataError(
            f"{root}: no class folders with text files in them; expected {root}/CLASS/FILE"
        )
    return sink.result("folder")


def _from_archive(archive: Path, inner: str, options: ReadOptions) -> LabeledTexts:
    source = f"{archive}#{inner}" if inner else str(archive)
    documents: dict[str, dict[str, bytes]] = {}  # class -> file name -> bytes
    with tarfile.open(archive, "r:*") as tar:
        members = [m for m in tar if m.isfile()]
        root = inner if inner else _guess_root(members, archive)
        prefix = PurePosixPath(root) if root else None
        for member in members:
            path = PurePosixPath(member.name)
            if prefix is not None:
                if prefix not in path.parents:
                    continue
                path = path.relative_to(prefix)
            if len(path.parts) != 2 or path.name.startswith("."):
                continue
            stream = tar.extractfile(member)
            if stream is not None:
                documents.setdefault(path.parts[0], {})[path.name] = stream.read()
    if not documents:
        raise DataError(
            f"{source}: no class folders with files in them; name the folder inside the archive "
            f"that holds them, as in {archive}#FOLDER"
        )
    sink = Collector(source, options)
    for label in _select(sorted(documents), options, source):
        for name in sorted(documents[label]):
            where = f"{source}/{label}/{name}"
            text = decode(documents[label][name], options.encoding, where)
            sink.add(text, label, f"file {label}/{name}")
    return sink.result("folder")


def _guess_root(members: list[tarfile.TarInfo], archive: Path) -> str:
    """'' when the classes are the archive's top folders, or its single top folder."""
    paths = [PurePosixPath(m.name) for m in members]
    if all(len(p.parts) == 2 for p in paths):
        return ""
    tops = {p.parts[0] for p in paths}
    if len(tops) == 1 and all(len(p.parts) in (2, 3) for p in paths):
        return tops.pop()
    holders = Counter(str(p.parent.parent) for p in paths if len(p.parts) >= 3)
    candidates = [folder for folder, _ in holders.most_common()]
    raise DataError(
        f"{archive}: the class folders are nested; name the folder that holds them, as in "
        f"{archive}#{candidates[0] if candidates else 'FOLDER'} "
        f"(folders that hold class folders: {', '.join(candidates[:6])})"
    )

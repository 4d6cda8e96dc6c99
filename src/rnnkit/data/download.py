"""Finding a named dataset's files: in ``--data-dir`` or ``$RNNKIT_DATA_DIR`` (one subfolder per
dataset, as in the project's shared data folder), then the cache folder, then a download with a
progress bar and a checksum check. Offline, the error says which files to place where.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from rnnkit.data.cache import cache_dir
from rnnkit.data.registry import RemoteFile, dataset_info
from rnnkit.errors import DataError
from rnnkit.files import write_file

log = logging.getLogger(__name__)


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """``--data-dir``, else ``$RNNKIT_DATA_DIR``, else None."""
    value = explicit or os.environ.get("RNNKIT_DATA_DIR")
    return Path(value) if value else None


def _complete(folder: Path, files: tuple[RemoteFile, ...]) -> bool:
    return all((folder / f.name).is_file() for f in files)


def locate(name: str, explicit_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """The folder holding dataset ``name``'s files: data dir, cache, or a fresh download."""
    info = dataset_info(name)
    return locate_files(
        info.name, info.files, explicit_dir, download=download, aliases=info.folder_aliases
    )


def locate_files(
    name: str,
    files: tuple[RemoteFile, ...],
    explicit_dir: str | Path | None = None,
    *,
    download: bool = True,
    aliases: tuple[str, ...] = (),
) -> Path:
    """The folder holding ``files``, named ``name`` (or one of ``aliases``) in the data dir, or
    ``name`` in the cache, where missing ones are downloaded."""
    looked: list[str] = []
    base = data_dir(explicit_dir)
    if base is not None:
        for folder_name in (name, *aliases):
            if _complete(base / folder_name, files):
                return base / folder_name
        looked.append(f"{base / name} (--data-dir or RNNKIT_DATA_DIR)")
    cached_folder = cache_dir() / "datasets" / name
    if _complete(cached_folder, files):
        return cached_folder
    looked.append(f"{cached_folder} (cache)")
    if not download:
        raise DataError(_missing_message(name, files, looked, "downloads are off"))
    for remote in files:
        if (cached_folder / remote.name).is_file():
            continue
        try:
            fetch(remote, cached_folder / remote.name)
        except urllib.error.HTTPError as error:
            why = f"the download of {remote.url} failed: HTTP {error.code} {error.reason}"
            raise DataError(_missing_message(name, files, looked, why)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            why = f"the download of {remote.url} failed: {reason}"
            raise DataError(_missing_message(name, files, looked, why)) from None
    return cached_folder


def _missing_message(name: str, files: tuple[RemoteFile, ...], looked: list[str], why: str) -> str:
    return (
        f"dataset {name!r} not found: looked in {'; '.join(looked)}, and {why}. "
        f"Place {', '.join(f.name for f in files)} in DIR/{name}/ and pass --data-dir DIR (or set "
        f"RNNKIT_DATA_DIR=DIR); sources: {', '.join(f.url for f in files)}"
    )


def fetch(remote: RemoteFile, destination: Path) -> None:
    """Download ``remote`` to ``destination`` with a progress bar, checking its checksum; a
    failed download (``OSError``, ``urllib.error.URLError``) or a wrong checksum (``DataError``)
    leaves nothing behind."""
    from tqdm import tqdm

    algorithm, expected = remote.checksum.split(":", 1)
    digest = hashlib.new(algorithm)
    log.info("downloading %s", remote.url)

    def write(staging: Path) -> None:
        with (
            urllib.request.urlopen(remote.url, timeout=30) as response,
            open(staging, "wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0) or remote.size
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=remote.name, disable=None, leave=False
            ) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != expected:
            raise DataError(
                f"{remote.url}: checksum mismatch ({algorithm} {digest.hexdigest()}, expected "
                f"{expected}); the file was not kept"
            )

    write_file(destination, write, staging_suffix=".part", output_error=False)

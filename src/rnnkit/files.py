"""Writing files so that nothing already saved is lost.

- ``write_folder`` and ``write_file`` write beside the target and rename into place, so a crash
  or a full disk never leaves a half-written file where a good one was;
- what they write gets the permissions the user's umask gives (as ``cp`` or an editor would),
  not the owner-only ones of temporary files;
- ``check_target`` refuses, before any work, a place that cannot be written or whose contents
  would be lost; ``FolderLock`` keeps two processes from writing the same place at once;
- every ``OSError`` of writing becomes an ``OutputError`` that names the path and the cause;
- ``check_sha256`` names a checksummed file that is missing or altered.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from rnnkit.errors import OutputError, RnnkitError

_CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
USER_ERRNOS = frozenset(_CAUSES)  # the causes of a failed write that the user can remove


def cause(error: OSError) -> str:
    """Why a write failed, in words: 'no space left on the device', ..."""
    return _CAUSES.get(error.errno or 0, error.strerror or str(error))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: object, *, listed_in: str, error: type[RnnkitError]) -> None:
    """Raise ``error`` naming ``path`` when the file is missing or its SHA-256 is not
    ``expected``, the checksum listed in the file ``listed_in`` (which a caller names)."""
    if not path.is_file():
        raise error(f"{path}: missing")
    if expected != sha256(path):
        raise error(f"{path}: corrupted (its SHA-256 does not match {listed_in})")


def unsupported_version(version: object, supported: int) -> str:
    """Why a file's format version cannot be read, saying what kind of value it is."""
    if isinstance(version, str) and version.strip().isdigit():
        return (
            f"format version {version!r} is a string; this rnnkit reads the number "
            f'{supported} (write "format_version": {supported})'
        )
    if version is None:
        return f"no format version; this rnnkit reads version {supported}"
    return f"format version {version!r} is not supported by this rnnkit (it reads {supported})"


# -- permissions ----------------------------------------------------------------------------


def umask() -> int:
    """The process's umask (read without changing it where Linux allows)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def share(path: Path) -> None:
    """Give ``path`` and everything under it the permissions a new file or folder gets from
    the umask (temporary files and folders are created readable by their owner only)."""
    mask = umask()
    path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)
    if path.is_dir():
        for root, folders, names in os.walk(path):
            for name in folders:
                Path(root, name).chmod(0o777 & ~mask)
            for name in names:
                Path(root, name).chmod(0o666 & ~mask)


# -- writing --------------------------------------------------------------------------------


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``; OSError as it comes (a full disk included)."""
    with open(path, "wb") as stream:
        stream.write(data)


def write_folder(
    path: Path,
    write: Callable[[Path], None],
    *,
    keep: tuple[str, ...] = (),
    what: str = "the folder",
) -> Path:
    """Call ``write(staging)`` on a fresh folder beside ``path``, then rename it to ``path``,
    replacing what was there. Entries named in ``keep`` move from the old folder to the new
    one (the checkpoints inside a model folder survive the bundle written over it). A failed
    write (a full disk, say) leaves the previous folder as it was and raises ``OutputError``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    except OSError as error:
        raise OutputError(f"{path}: cannot write {what} there ({cause(error)})") from None
    moved: list[str] = []  # entries of the old folder now in staging
    previous: Path | None = None  # where the old folder waits to be deleted
    try:
        write(staging)
        share(staging)
        if path.exists():
            for name in keep:
                if (path / name).exists() and not (staging / name).exists():
                    os.rename(path / name, staging / name)
                    moved.append(name)
            previous = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
            os.rename(path, previous / path.name)
            os.rename(staging, path)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.rename(staging, path)
    except BaseException as error:
        _undo(path, staging, moved, previous)
        if not isinstance(error, OSError):
            raise
        kept = f"; the previous {path} is intact" if path.exists() else "; nothing was written"
        raise OutputError(f"{path}: cannot write {what} ({cause(error)}){kept}") from None
    return path


def _undo(path: Path, staging: Path, moved: list[str], previous: Path | None) -> None:
    """After a failed ``write_folder``: the old folder back in its place, the entries moved
    out of it back in it, then the staging folder removed."""
    if previous is not None:
        with contextlib.suppress(OSError):
            if not path.exists() and (previous / path.name).is_dir():
                os.rename(previous / path.name, path)
            os.rmdir(previous)
    if path.is_dir() and staging.is_dir():
        for name in moved:
            with contextlib.suppress(OSError):
                if not (path / name).exists():
                    os.rename(staging / name, path / name)
    shutil.rmtree(staging, ignore_errors=True)


def write_file(
    path: Path,
    write: Callable[[Path], object],
    *,
    what: str = "the file",
    staging_suffix: str = ".tmp",
    output_error: bool = True,
) -> Path:
    """Call ``write(staging)`` on a new file name beside ``path`` (``.NAME{staging_suffix}-PID``),
    then rename it to ``path``. ``write`` may stream into the file, and may raise to refuse
    what it wrote (a download whose checksum is wrong): the staging file is removed whatever
    happens. A failed write leaves the previous file as it was and raises ``OutputError``, or
    with ``output_error=False`` the ``OSError`` itself, for callers that word it themselves or
    only warn (the token cache)."""
    staging = path.with_name(f".{path.name}{staging_suffix}-{os.getpid()}-{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(staging)
        share(staging)
        os.replace(staging, path)
    except OSError as error:
        if not output_error:
            raise
        kept = f"; the previous {path} is intact" if path.exists() else "; nothing was written"
        raise OutputError(f"{path}: cannot write {what} ({cause(error)}){kept}") from None
    finally:
        staging.unlink(missing_ok=True)
    return path


def leftovers(path: Path) -> list[Path]:
    """Folders an interrupted ``write_folder(path, ...)`` can leave beside ``path``: the new
    one not yet renamed into place, or the previous one (``.NAME.old-*/NAME``) not yet
    deleted."""
    new = [p for p in path.parent.glob(f".{path.name}.tmp-*") if p.is_dir()]
    old = [p / path.name for p in path.parent.glob(f".{path.name}.old-*")]
    return sorted([*new, *(p for p in old if p.is_dir())])


def leftover_hint(path: Path, inner: str = "") -> str:
    """A sentence naming the leftovers of ``path`` that hold ``inner`` (or ``""``)."""
    found = [p for p in leftovers(path) if (p / inner).exists()]
    if not found:
        return ""
    return (
        f"; an interrupted save left {', '.join(str(p / inner) for p in found)}: move it back "
        f"to {path / inner}"
    )


# -- checking a place before the work -------------------------------------------------------


def check_target(
    path: Path,
    *,
    option: str,
    folder: bool,
    inputs: Sequence[str | Path] = (),
    foreign: Callable[[Path], list[str]] | None = None,
) -> Path:
    """Raise ``OutputError`` (naming ``option`` and ``path``) unless ``path`` can be written
    (or replaced) without losing anything; return it resolved (symbolic links in its parents
    followed).

    ``folder``: the target is a folder (else a file). The target itself must not be a symbolic
    link or a mount point (renaming would replace the link, or fail across devices). An
    existing folder may be replaced only when ``foreign(path)`` lists nothing that is not the
    program's own, and must hold neither one of ``inputs`` nor the current folder; an existing
    file only when ``foreign(path)`` lists nothing. The nearest existing parent must be a
    writable folder (tried by creating and removing a folder in it, so that a read-only file
    system is caught too, which ``os.access`` misses for root).
    """
    shown = f"{option} {path}".strip()
    given = Path(os.path.abspath(path))
    if given.is_symlink():
        raise OutputError(
            f"{shown}: is a symbolic link (to {os.readlink(given)}); give the "
            f"{'folder' if folder else 'file'} itself"
        )
    target = given.resolve()
    here = Path.cwd().resolve()
    if folder and (target == here or target in here.parents):
        raise OutputError(
            f"{shown}: is the current folder or holds it, which cannot be replaced; give the "
            "name of a new folder, such as ./model"
        )
    if target.exists():
        if folder and not target.is_dir():
            raise OutputError(f"{shown}: is a file, not a folder; give a folder name")
        if not folder and target.is_dir():
            raise OutputError(f"{shown}: is a folder; give a file name")
        if target.stat().st_dev != target.parent.stat().st_dev:
            raise OutputError(
                f"{shown}: is a mount point, which cannot be replaced by renaming; give a "
                f"{'folder' if folder else 'file'} inside it, such as {path}/model"
            )
        _check_contents(target, shown, inputs, foreign, folder)
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{shown}: {ancestor} is a file, so nothing can be created inside it")
    try:
        probe = tempfile.mkdtemp(dir=ancestor, prefix=".rnnkit-probe-")
        os.rmdir(probe)
    except OSError as error:
        raise OutputError(f"{shown}: cannot write in {ancestor} ({cause(error)})") from None
    return target


def _check_contents(
    target: Path,
    shown: str,
    inputs: Sequence[str | Path],
    foreign: Callable[[Path], list[str]] | None,
    folder: bool,
) -> None:
    for item in inputs:
        location = Path(str(item).split("#", 1)[0]).resolve()
        if location == target or target in location.parents:
            raise OutputError(
                f"{shown}: holds the input {location}, which replacing it would delete; "
                f"choose another {'folder' if folder else 'file'}"
            )
    if not folder:
        if foreign is not None and (problems := foreign(target)):
            raise OutputError(f"{shown}: exists and {problems[0]}; give a new file name")
        return
    strangers = foreign(target) if foreign else sorted(p.name for p in target.iterdir())
    if strangers:
        more = f" and {len(strangers) - 3} more" if len(strangers) > 3 else ""
        raise OutputError(
            f"{shown}: exists and holds files that rnnkit did not write "
            f"({', '.join(strangers[:3])}{more}); replacing it would delete them, so give a new "
            "or empty folder, or an rnnkit model folder"
        )


# -- one writer at a time -------------------------------------------------------------------


class FolderLock:
    """An exclusive lock on writing ``path``, held in the file ``.NAME.lock`` beside it (an
    advisory ``flock``, released by the kernel when the process ends, even by SIGKILL).
    Re-entrant within a thread; another thread or process is refused at once with
    ``OutputError``. Symbolic links in the path are followed, so that two names of one folder
    share one lock."""

    # resolved path -> (file descriptor, depth, owning thread)
    _held: ClassVar[dict[Path, tuple[int, int, int]]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path, *, option: str = "") -> None:
        self.path = Path(path).resolve()
        self.file = self.path.with_name(f".{self.path.name}.lock")
        self.shown = f"{option} {path}".strip()

    def __enter__(self) -> FolderLock:
        with self._guard:
            if self.path in self._held:
                fd, depth, owner = self._held[self.path]
                if owner != threading.get_ident():
                    raise OutputError(
                        f"{self.shown}: another thread of this process is writing to it"
                    )
                self._held[self.path] = (fd, depth + 1, owner)
                return self
            self._held[self.path] = (self._acquire(), 1, threading.get_ident())
        return self

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            fd, depth, owner = self._held[self.path]
            if depth > 1:
                self._held[self.path] = (fd, depth - 1, owner)
                return
            del self._held[self.path]
            if fd >= 0:
                with contextlib.suppress(OSError):
                    self.file.unlink()
                os.close(fd)

    def _acquire(self) -> int:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: no locking
            return -1
        shown = self.shown
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{shown}: cannot create its folder ({cause(error)})") from None
        while True:
            try:
                fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise OutputError(
                    f"{shown}: cannot write in {self.path.parent} ({cause(error)})"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"{shown}: another rnnkit process (PID {holder}) is writing to it; wait for "
                    "it to finish or stop it, or choose another folder"
                ) from None
            # The holder before us may have deleted the file between our open and our lock:
            # then we hold a lock on a name that no longer exists, so try again.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.file).st_ino == os.fstat(fd).st_ino:
                    with contextlib.suppress(OSError):  # the PID only names the holder
                        os.ftruncate(fd, 0)
                        os.write(fd, str(os.getpid()).encode())
                    return fd
            os.close(fd)

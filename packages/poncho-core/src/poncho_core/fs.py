"""Writing and removing files safely: the one atomic writer and the one rmtree of Poncho.

Every poncho package writes its outputs (specs, locks, tarballs, state files, caches)
through :func:`atomic_write` or :func:`atomic_output` (for a stream), checks an output
location with :func:`writable_location` before starting expensive work, and removes trees
with :func:`rmtree`. Standard library only: the worker side imports it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "atomic_output",
    "atomic_write",
    "default_file_mode",
    "file_sha256",
    "parse_size",
    "rmtree",
    "tree_size",
    "writable_location",
]

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGTP]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size such as ``10G``, ``512M``, ``1.5TiB`` or ``1000`` (units are powers
    of 1024; a trailing ``B`` or ``iB`` is allowed). Raises ValueError."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid size {text!r} (expected e.g. 10G, 512M, 1000000)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def default_file_mode() -> int:
    """The mode a new file gets under the current umask (``0o644`` for umask 022).

    ``mkstemp`` makes files ``0o600``, which is wrong for anything shared (a cache, an
    environment folder other users run from).
    """
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write `data` (text is UTF-8) to `path` so that no reader ever sees half of it, with
    the rules of `atomic_output`. Returns the path written (the link's target for a link)."""
    with atomic_output(path) as (out, target):
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
    return target


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[tuple[BinaryIO, Path]]:
    """Yield ``(file, target)``: a binary file to write `path`'s new content into, and the
    path that will hold it. The content appears when the block ends without an error:

    - a new name or a regular file: a temporary file in the same folder, then ``os.replace``;
      a new file gets the umask's mode, an existing one keeps its own (missing folders
      above it are not created: FileNotFoundError);
    - a symbolic link: its final target is written that way, and the link stays a link;
    - a device, FIFO or socket (``/dev/null``, ``/dev/stdout``): written in place, never
      replaced.

    OSError as the system raises it (IsADirectoryError for a folder); on an error or an
    interrupt the temporary file is removed and `path` is left as it was.
    """
    target = Path(os.path.realpath(os.fspath(path)))
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a folder", str(path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(target, "wb") as out:  # a device or a pipe: no temp file, no rename
            yield out, target
        return
    mode = stat.S_IMODE(st.st_mode) if st is not None else default_file_mode()
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, target
        temp.chmod(mode)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def writable_location(path: str | os.PathLike[str]) -> list[Path]:
    """Check, creating nothing, that a file can be written at `path`; returns the missing
    folders above it (outermost first), which writing it will have to create.

    OSError with a message a user can act on if not: a folder at `path`, a file where a
    folder is needed, a read-only or forbidden folder. A device or FIFO at `path` is fine.
    """
    name = os.fspath(path)
    target = Path(os.path.realpath(name))
    if target.is_dir():
        raise IsADirectoryError(21, "is a folder", name)
    if target.exists():
        if not os.access(target, os.W_OK):
            raise PermissionError(13, "cannot write this file (read-only or no permission)", name)
        return []
    missing: list[Path] = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(20, f"{parent} is not a folder", name)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(13, f"cannot write in {parent} (read-only or no permission)", name)
    return list(reversed(missing))


def file_sha256(path: str | os.PathLike[str], *, follow_links: bool = True) -> str:
    """The sha256 of the file at `path`, read a MiB at a time; with `follow_links` False a
    symbolic link is not followed (OSError). OSError if it cannot be read."""
    import hashlib  # not at import: the worker's cold start imports this module

    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    digest = hashlib.sha256()
    with os.fdopen(os.open(path, flags), "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def tree_size(root: str | os.PathLike[str]) -> int:
    """Bytes under the folder `root`: each file, link and folder counted as ``lstat`` gives
    it (what removing the tree frees, roughly); what vanishes meanwhile is skipped."""
    total = 0
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total


def rmtree(path: str | os.PathLike[str]) -> None:
    """Remove a file, a link or a folder tree, even one whose content made some of its
    folders read-only (as ``pip`` or a task may); a missing path is fine."""
    target = Path(path)

    def make_writable_and_retry(func: Any, name: str, _exc: Any) -> None:
        failed = Path(name)
        with contextlib.suppress(OSError):
            failed.parent.chmod(stat.S_IRWXU)
        if failed.is_dir() and not failed.is_symlink():
            with contextlib.suppress(OSError):
                failed.chmod(stat.S_IRWXU)
            shutil.rmtree(failed, ignore_errors=True)
            return
        with contextlib.suppress(FileNotFoundError):
            func(name)

    if target.is_symlink() or target.is_file():
        target.unlink()
        return
    if not target.exists():
        return
    from poncho_core._rmfiles import unlink_files

    unlink_files(os.fspath(target))  # a big tree's files by a few threads, then the rest
    if sys.version_info >= (3, 12):
        shutil.rmtree(target, onexc=make_writable_and_retry)
    else:  # pragma: no cover - Python 3.10 and 3.11
        shutil.rmtree(target, onerror=make_writable_and_retry)

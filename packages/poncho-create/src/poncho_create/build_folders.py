"""Temporary build folders that a kill cannot leave behind.

A build works in folders named ``poncho-create-*`` (the prefix, pip's temporary files) and
``poncho-create-json-*`` (the CLI's ``--json`` scratch) under the temporary folder. Each
one holds ``.poncho-build.lock``, locked (poncho-core's ``flock``) by its process for the
folder's whole life: the kernel releases it when that process dies, even by SIGKILL (a
batch scheduler's time limit). `sweep`, run by every later create and by
``poncho cache prune``, removes the folders whose lock is free, and only those: a live
build's folder, or one without a lock file (being made, or not ours), is never touched.

The lock file is made and locked under a temporary name, then renamed into place, so no
sweep ever sees a folder's lock file unlocked while its build lives.

The build prefix itself (`poncho_create.stable_prefix`: ``poncho-create-env-<digest>``,
a path that must hold nothing but the environment) is locked by a sibling file,
``poncho-create-env-<digest>.lock``: `sweep` removes such a prefix, and its lock file, when
that lock is free too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from poncho_core.fs import rmtree
from poncho_core.lock import FileLock, acquire

__all__ = ["PREFIX", "SIBLING_LOCK", "build_folder", "default_parents", "sweep"]

PREFIX = "poncho-create-"
"""The name every build folder starts with."""

_LOCK = ".poncho-build.lock"

SIBLING_LOCK = ".lock"
"""The ending of the lock file beside a build prefix (``poncho-create-env-*``)."""


@contextlib.contextmanager
def build_folder(prefix: str = PREFIX, parent: Path | None = None) -> Iterator[Path]:
    """A new folder under `parent` (else the system's temporary folder), locked while the
    ``with`` block runs, then removed (best effort) before its lock is let go."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        held = _lock_new(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            rmtree(folder)
        raise
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            rmtree(folder)
        held.release()


def sweep(parents: Iterable[Path]) -> list[Path]:
    """Remove the build folders under `parents` whose build is gone (lock free); returns
    those removed."""
    removed: list[Path] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    for parent in dict.fromkeys(parents):
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(PREFIX):
                continue
            if entry.name.endswith(SIBLING_LOCK):  # a build prefix's lock
                prefix = Path(entry.path[: -len(SIBLING_LOCK)])
                if _remove_if_free(prefix, Path(entry.path)):
                    removed.append(prefix)
                continue
            try:
                if not entry.is_dir(follow_symlinks=False) or (
                    uid is not None and entry.stat(follow_symlinks=False).st_uid != uid
                ):
                    continue
            except OSError:
                continue
            if _remove_if_free(Path(entry.path)):
                removed.append(Path(entry.path))
    return removed


def default_parents(tmp_dir: Path | None = None) -> list[Path]:
    """Where build folders are made: `tmp_dir` (else ``$PONCHO_CREATE_TMPDIR``) and the
    system's temporary folder (the CLI's scratch)."""
    explicit = tmp_dir or (
        Path(os.environ["PONCHO_CREATE_TMPDIR"]) if os.environ.get("PONCHO_CREATE_TMPDIR") else None
    )
    system = Path(tempfile.gettempdir())
    return [explicit, system] if explicit is not None else [system]


def _lock_new(folder: Path) -> FileLock:
    fd, temp = tempfile.mkstemp(prefix=".lock-", dir=folder)
    try:
        held = acquire(temp, fd=fd, timeout=0)
    except BaseException:
        os.close(fd)
        raise
    assert held is not None  # a new file: nobody else holds it
    try:
        Path(temp).replace(folder / _LOCK)
    except BaseException:
        held.release()
        raise
    held.path = str(folder / _LOCK)
    return held


def _remove_if_free(folder: Path, lock: Path | None = None) -> bool:
    """Remove `folder` if its lock (inside it, else `lock`, which goes too) is free."""
    path = lock or folder / _LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False  # no lock file: being made, or not a build folder of ours
    held = acquire(path, fd=fd, timeout=0)
    if held is None:
        return False  # its build is alive
    with held:
        try:
            if folder.is_dir() and not folder.is_symlink():
                rmtree(folder)
            if lock is not None:
                lock.unlink()  # a build waiting on it sees another file and takes the new one
        except OSError:
            return False
    return True

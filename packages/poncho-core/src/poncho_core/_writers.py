"""The file writers of `poncho_core.extract`: creating a member's file, and a few threads
writing small files while the reader keeps decoding.

Creating files is system calls, which run without the GIL, so a few threads writing the
small files let the reading thread keep decoding meanwhile. `extract` decides what is safe
to write and where; this module only writes it (``O_EXCL | O_NOFOLLOW``: never through a
link, never over a folder).
"""

# Paths are str here: Path objects in the per-file calls cost ~10% of extraction time.
# ruff: noqa: PTH102, PTH103, PTH108, PTH112, PTH113, PTH114, PTH118, PTH211

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable

from poncho_core.errors import PonchoError, UnpackError, UnsafeArchive, shown

__all__ = [
    "File",
    "Writers",
    "clear",
    "hardlink",
    "make_folder",
    "symlinks",
    "write",
    "write_error",
]

_MAX_BATCHES = 2  # queued per thread: bounds the memory held by files not yet written
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# A small file to write: path, data, mode, modification time (ns) and member name.
File = tuple[str, bytes, int, int, str]


class Writers:
    """A few threads writing the batches of small files put in their queue.

    Plain threads and a queue, not ``concurrent.futures``: its import (``logging``) costs
    the worker's cold start ~20 ms, and a future per file costs more than the file."""

    def __init__(self, count: int) -> None:
        self.queue: queue.Queue[list[File] | None] = queue.Queue(_MAX_BATCHES * count)
        self.errors: list[BaseException] = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def put(self, batch: list[File]) -> None:
        """Queue `batch` (waiting for room); raise a writer's error if one failed."""
        self._raise()
        self.queue.put(batch)

    def wait(self) -> None:
        """Wait until every queued batch is written; raise a writer's error if one failed."""
        self.queue.join()
        self._raise()

    def stop(self) -> None:
        """Drop the batches not started, let the running ones finish, end the threads."""
        self.stopping = True
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()

    def _raise(self) -> None:
        if self.errors:
            raise self.errors[0]

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            try:
                if batch is None:
                    return
                if not self.stopping and not self.errors:
                    for path, data, mode, mtime_ns, name in batch:
                        write(path, (data,), mode, mtime_ns, name)
            except BaseException as exc:  # handed to the reading thread
                self.errors.append(exc)
            finally:
                self.queue.task_done()


def make_folder(path: str) -> None:
    """Make the folder `path` and its missing parents, as ``os.makedirs(exist_ok=True)``
    does; first a single ``mkdir``, which is all an archive's folders need when their
    parent came first (makedirs would ``stat`` the parent before each: ~0.1 s of the real
    environment's 1,429 folders). OSError as makedirs raises it."""
    try:
        os.mkdir(path)
    except OSError:
        os.makedirs(path, exist_ok=True)


def write(path: str, chunks: Iterable[bytes], mode: int, mtime_ns: int, name: str) -> None:
    """Write a new file at `path` from `chunks` with `mode` and the modification time
    `mtime_ns`; what an earlier member `name` left there goes. An OSError becomes
    `write_error`'s."""
    try:
        fd = _create(path, mode, name)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
    except OSError as exc:
        raise write_error(name, exc) from exc


def hardlink(root: str, rel: str, target: str, name: str) -> None:
    """Make `rel` a hard link to the file `target` (both relative to `root`), which must be a
    regular file of the archive already written: `UnsafeArchive` otherwise. What an earlier
    member left at `rel` goes."""
    source = os.path.join(root, target)
    path = os.path.join(root, rel)
    try:
        if not os.path.isfile(source) or os.path.islink(source):
            raise UnsafeArchive(name, f"hard link to {target!r}, not a file of the archive")
        if os.path.lexists(path):
            clear(path, name)
        os.link(source, path, follow_symlinks=False)
    except OSError as exc:
        raise write_error(name, exc) from exc


def symlinks(root: str, links: dict[str, str]) -> None:
    """Create the symbolic links `links` (path -> target, paths relative to `root`, their
    folders made, their targets checked), replacing what entries left at their paths."""
    for rel, target in links.items():
        path = os.path.join(root, rel)
        clear(path, rel)
        try:
            os.symlink(target, path)
        except OSError as exc:
            raise write_error(rel, exc) from exc


def write_error(member: str, exc: OSError) -> PonchoError:
    """The error to raise when the file system refuses to write `member`."""
    if isinstance(exc, PonchoError):
        return exc
    return UnpackError(f"cannot extract {shown(member)}: {exc.strerror or exc}")


def _create(path: str, mode: int, member: str) -> int:
    """A new file at `path`, open for writing; what an earlier member left there goes."""
    try:
        return os.open(path, _OPEN_FLAGS, mode)
    except FileExistsError:
        clear(path, member)
        return os.open(path, _OPEN_FLAGS, mode)


def clear(path: str, member: str) -> None:
    """Remove what a previous member left at `path` (a later member wins, as in tar)."""
    if os.path.isdir(path) and not os.path.islink(path):
        raise UnsafeArchive(member, "replaces a folder")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

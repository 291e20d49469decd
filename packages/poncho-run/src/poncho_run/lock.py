"""The lock that lets many runs on one node share one unpack folder.

The lock is poncho-core's file lock (`poncho_core.lock`, ``flock``) on the file
``<DIR>.poncho.lock`` next to the folder, not inside it: the folder itself is replaced by a
rename when it is unpacked. ``flock(1)`` takes the same lock, so the shell front end of
``poncho_package_run`` (on a worker with no Python) and this module exclude each other. The
lock file stays after use. The kernel releases the lock when its holder dies, even by
SIGKILL; its descriptor is close-on-exec, so the command run afterwards does not keep the
folder locked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from poncho_core import lock as core_lock
from poncho_core.errors import LockError
from poncho_core.errors import LockTimeout as CoreLockTimeout
from poncho_run.errors import LockTimeout, UnpackError

__all__ = [
    "HELD_FD_VARIABLE",
    "LOCK_SUFFIX",
    "adopt_held_lock",
    "folder_lock",
    "lock_path",
    "open_lock_file",
]

#: Set by the shell front end when it execs the engine while holding the lock on that
#: descriptor (so that runs starting together wait in sh, not in Python).
HELD_FD_VARIABLE = "PONCHO_RUN_LOCK_FD"
_held: list[int] = []

LOCK_SUFFIX = ".poncho.lock"

_log = logging.getLogger(__name__)


def lock_path(folder: str) -> str:
    """The lock file guarding `folder`."""
    return os.path.normpath(folder) + LOCK_SUFFIX


def open_lock_file(path: str) -> int:
    """Open (creating it 0666 & ~umask) the lock file `path` and return its descriptor.

    Raises `UnpackError` if it is a symbolic link or not a regular file, `OSError` if it
    cannot be opened (e.g. `PermissionError` in a folder one cannot write).
    """
    try:
        return core_lock.open_lock_file(path)
    except LockError as exc:
        raise UnpackError(str(exc)) from None


def adopt_held_lock() -> None:
    """Take over the lock descriptor the shell front end passed (`HELD_FD_VARIABLE`), if
    any: remove the variable from the environment and make the descriptor close-on-exec,
    so that the command run at the end never keeps the folder locked."""
    value = os.environ.pop(HELD_FD_VARIABLE, None)
    if value is None or not value.isdigit():
        return
    fd = int(value)
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return
    _held.append(fd)


def _take_held(path: str) -> int | None:
    """The adopted descriptor if it is the lock file `path` (same file), else None."""
    for fd in _held:
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except OSError:
            continue
        if same:
            _held.remove(fd)
            return fd
    return None


@contextmanager
def folder_lock(
    folder: str, wait: float, *, done: Callable[[], bool] | None = None
) -> Iterator[bool]:
    """Hold the exclusive lock of `folder` for the ``with`` block; yield True.

    Waits up to `wait` seconds for another holder, then raises `LockTimeout`. While waiting,
    `done()` is asked now and then: once it returns True, the block runs without the lock
    and the context yields False (the other holder already did the work). Opening the lock
    file can raise `OSError` (e.g. `PermissionError` in a folder one cannot write).
    """
    path = lock_path(folder)
    held = _take_held(path)

    def waiting(_pid: int | None) -> None:
        _log.info("waiting up to %g s for the lock on %s (held by another run)", wait, folder)

    try:
        lock = core_lock.acquire(
            path,
            timeout=wait,
            done=done,
            on_wait=waiting,
            fd=held if held is not None else open_lock_file(path),
        )
    except CoreLockTimeout:
        raise LockTimeout(folder, wait, path) from None
    if lock is None:  # done by another run meanwhile
        yield False
        return
    with lock:
        yield True

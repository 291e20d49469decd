"""The lock that lets many runs on one node share one unpack folder.

The lock is an ``flock`` lock on the file ``<DIR>.poncho.lock`` next to the folder, not
inside it: the folder itself is replaced by a rename when it is unpacked. ``flock(1)``
takes the same lock, so the shell front end of ``poncho_package_run`` (on a worker with no
Python) and this module exclude each other. The lock file stays after use (removing a lock
file others may have open is a race). The kernel releases the lock when its holder dies,
even by SIGKILL.

The lock file is opened without following a symbolic link and must be a regular file: on
a shared scratch folder, a link planted in its place must not make us create or write a
file elsewhere. Its descriptor is close-on-exec: the command run afterwards does not keep
the folder locked.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
_FIRST_POLL = 0.02
_MAX_POLL = 0.25


def lock_path(folder: str) -> str:
    """The lock file guarding `folder`."""
    return os.path.normpath(folder) + LOCK_SUFFIX


def open_lock_file(path: str) -> int:
    """Open (creating it 0666 & ~umask) the lock file `path` and return its descriptor.

    Raises `UnpackError` if it is a symbolic link or not a regular file, `OSError` if it
    cannot be opened (e.g. `PermissionError` in a folder one cannot write).
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnpackError(f"{path}: the lock file is a symbolic link; refusing it") from exc
        if exc.errno not in (errno.EACCES, errno.EROFS):
            raise
        # A read-only lock file (made by another user) still locks: flock needs no write.
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError:
            raise exc from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnpackError(f"{path}: the lock file is not a regular file; refusing it")
    return fd


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
    `done()` is checked at each poll: once it returns True, the block runs without the lock
    and the context yields False (the other holder already did the work). Opening the lock
    file can raise `OSError` (e.g. `PermissionError` in a folder one cannot write).
    """
    path = lock_path(folder)
    held = _take_held(path)
    if held is not None:  # the shell front end holds it for us
        try:
            yield True
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)
        return
    fd = open_lock_file(path)
    try:
        deadline = time.monotonic() + wait
        interval = _FIRST_POLL
        logged = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            if done is not None and done():
                yield False
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(folder, wait, path) from None
            if not logged:
                _log.info(
                    "waiting up to %g s for the lock on %s (held by another run)", wait, folder
                )
                logged = True
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, _MAX_POLL)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

"""The lock that lets many runs on one node share one unpack folder.

The lock is a portalocker (``flock``) lock on the file ``<DIR>.poncho.lock`` next to the
folder, not inside it: the folder itself is replaced by a rename when it is unpacked. The
lock file stays after use (removing a lock file others may have open is a race). The kernel
releases the lock when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from poncho_run.errors import LockTimeout

__all__ = ["LOCK_SUFFIX", "folder_lock", "lock_path"]

LOCK_SUFFIX = ".poncho.lock"

_log = logging.getLogger(__name__)
_FIRST_POLL = 0.02
_MAX_POLL = 0.25


def lock_path(folder: str) -> str:
    """The lock file guarding `folder`."""
    return os.path.normpath(folder) + LOCK_SUFFIX


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
    import portalocker

    path = lock_path(folder)
    with open(path, "a") as handle:
        deadline = time.monotonic() + wait
        interval = _FIRST_POLL
        logged = False
        while True:
            try:
                portalocker.lock(handle, portalocker.LOCK_EX | portalocker.LOCK_NB)
                break
            except portalocker.exceptions.LockException:
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
            portalocker.unlock(handle)

"""The one file lock of Poncho: ``flock`` on a lock file, shared or exclusive, with a deadline.

Every lock of the product goes through here: the unpack folder of ``poncho_package_run``
(``DIR.poncho.lock``), the data cache (entries in use, fills, eviction), the environment and
package caches of ``poncho_package_create``, and the test helpers' caches. Shell code takes
the same locks with ``flock(1)``.

Why ``flock``: the lock belongs to the open file, so the kernel releases it when its holder
dies, even by SIGKILL, and a lock is never recovered by a timeout; a descriptor passed
across ``exec`` keeps it (how a task keeps its data from eviction while it runs). Lock
files are never removed (removing a file others may have open is a race).

Why not portalocker, the library the design names: on POSIX it is this same ``flock`` call,
and its import costs 60 to 110 ms here (``importlib.metadata`` for its version, a redis
probe), more than a whole warm run; the worker's cold path imports this module.

A lock file is opened without following a symbolic link and must be a regular file: on a
shared scratch folder, a link planted in its place must not make us create or write a file
elsewhere. Descriptors are close-on-exec unless asked otherwise. A lock file made by another
user that one cannot open for writing still locks: ``flock`` needs no write access.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable

from poncho_core.errors import LockError, LockTimeout

__all__ = ["FileLock", "acquire", "open_lock_file", "read_pid"]

_OPEN = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
# How often `done` is asked while the kernel queues the wait.
_POLL = 0.05


def open_lock_file(path: str | os.PathLike[str]) -> int:
    """Open (creating it ``0666 & ~umask``) the lock file `path`; return its descriptor.

    Raises `LockError` if it is a symbolic link or not a regular file, and `OSError` if it
    cannot be opened (`PermissionError` where it is missing in a folder one cannot write).
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | _OPEN, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError(f"{name}: the lock file is a symbolic link; refusing it") from exc
        if exc.errno == errno.EISDIR:
            raise LockError(f"{name}: the lock file is not a regular file; refusing it") from exc
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        try:  # another user's lock file, or a read-only folder where it exists already
            fd = os.open(name, os.O_RDONLY | _OPEN)
        except OSError:
            raise exc from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LockError(f"{name}: the lock file is not a regular file; refusing it")
    return fd


def read_pid(path: str | os.PathLike[str]) -> int | None:
    """The process id a holder recorded in the lock file `path`, or None."""
    try:
        with open(path, "rb") as file:
            text = file.read(32)
        return int(text.strip() or b"x")
    except (OSError, ValueError):
        return None


class FileLock:
    """A held ``flock`` lock: `fd` is its descriptor, `path` its file.

    `release()` (or the end of a ``with`` block) closes the descriptor: the lock ends when
    the last descriptor of its open file is closed, so a child that inherited it (across
    ``exec``, or in ``pass_fds``) keeps holding it.
    """

    __slots__ = ("fd", "path", "shared")

    def __init__(self, fd: int, path: str, shared: bool) -> None:
        self.fd = fd
        self.path = path
        self.shared = shared

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def set_inheritable(self, inheritable: bool = True) -> None:
        """Keep the lock (or not) in a program this process ``exec``s."""
        os.set_inheritable(self.fd, inheritable)

    def release(self) -> None:
        """Close the descriptor (the lock ends with the last one); a second call does
        nothing."""
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        os.close(fd)


def acquire(
    path: str | os.PathLike[str],
    *,
    shared: bool = False,
    timeout: float | None = None,
    what: str = "",
    record_pid: bool = False,
    on_wait: Callable[[int | None], None] | None = None,
    done: Callable[[], bool] | None = None,
    fd: int | None = None,
) -> FileLock | None:
    """Lock the file `path` (made if missing) and return the held `FileLock`.

    - `timeout`: ``0`` tries once and returns None if another process holds it; ``None``
      waits as long as it takes; else at most that many seconds, then `LockTimeout`
      (naming `what`, and the holder's pid if it recorded one).
    - `record_pid`: an exclusive holder writes its process id into the file, for others'
      messages.
    - `on_wait(pid)`: called once, when the lock is busy and waiting starts.
    - `done()`: asked while waiting; once it returns True the wait ends and None is
      returned (another process did the work the lock guards).
    - `fd`: an open descriptor of `path` to lock instead of opening it (it is then owned
      by the returned lock).

    The wait is the kernel's (queued like ``flock(1)``, woken as soon as the lock is free),
    run in a helper thread on a duplicate of the descriptor so that it can be abandoned:
    an abandoned thread drops the lock as soon as it gets it.
    """
    name = os.fspath(path)
    if fd is None:
        fd = open_lock_file(name)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            got = True
        except BlockingIOError:
            got = False
        if not got:
            if timeout is not None and timeout <= 0:
                os.close(fd)
                return None
            if on_wait is not None:
                on_wait(read_pid(name))
            outcome = _wait(fd, mode, timeout, done)
            if outcome == "done":
                os.close(fd)
                return None
            if outcome == "timeout":
                raise LockTimeout(name, timeout or 0.0, read_pid(name), what)
        if record_pid and not shared:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:  # a read-only lock file still locks; the pid is a courtesy
                pass
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
    return FileLock(fd, name, shared)


def _wait(fd: int, mode: int, timeout: float | None, done: Callable[[], bool] | None) -> str:
    """Wait for the lock on `fd` in the kernel, at most `timeout` seconds (None: forever),
    asking `done()` every moment: "locked" once it is held, else "done" or "timeout"."""
    import threading

    deadline = None if timeout is None else time.monotonic() + timeout
    dup = os.dup(fd)  # same open file: the lock the thread gets is fd's
    mutex = threading.Lock()
    state = {"locked": False, "cancelled": False}
    finished = threading.Event()

    def take() -> None:
        try:
            fcntl.flock(dup, mode)
            with mutex:
                if state["cancelled"]:
                    fcntl.flock(dup, fcntl.LOCK_UN)
                else:
                    state["locked"] = True
        except OSError:
            pass
        finally:
            os.close(dup)
            finished.set()

    threading.Thread(target=take, name="poncho-lock-wait", daemon=True).start()
    outcome = "locked"
    while True:
        step = _POLL if done is not None else None
        if deadline is not None:
            left = deadline - time.monotonic()
            step = max(0.0, left if step is None else min(step, left))
        if finished.wait(step):
            break
        if done is not None and done():
            outcome = "done"
            break
        if deadline is not None and time.monotonic() >= deadline:
            outcome = "timeout"
            break
    with mutex:
        if state["locked"]:
            return "locked"  # got it after all: the caller holds it
        state["cancelled"] = True
        return outcome if outcome != "locked" else "timeout"

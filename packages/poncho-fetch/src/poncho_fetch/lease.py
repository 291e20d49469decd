"""`Lease`: the entries of one spec held in use (shared locks) while a task runs."""

from __future__ import annotations

from types import TracebackType

from poncho_core.lock import FileLock

__all__ = ["Lease"]


class Lease:
    """Entries of one spec, held "in use" (shared locks) until :meth:`release`.

    `env` maps each variable to its absolute path; `lock_fds` are the descriptors holding
    the locks. A process that ``exec``s the task can keep the entries protected by making
    the descriptors inheritable (``inheritable=True``); with :mod:`subprocess`, pass them in
    ``pass_fds``. The locks last until every process holding the descriptors closes them.
    """

    def __init__(self, env: dict[str, str], locks: list[FileLock]) -> None:
        self.env = env
        self._locks = locks

    @property
    def lock_fds(self) -> tuple[int, ...]:
        """The file descriptors holding the shared locks (empty once released)."""
        return tuple(lock.fd for lock in self._locks)

    def release(self) -> None:
        """Drop the locks held by this process (idempotent)."""
        locks, self._locks = self._locks, []
        for lock in locks:
            lock.release()

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

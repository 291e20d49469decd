"""`PonchoError`, the root of every Poncho package's errors, and the errors of poncho-core.

Each error a command line reports carries its exit status (`exit_status`): 1 unless said
otherwise; a lock not had in time exits 75 (``EX_TEMPFAIL``: try again later).
"""

from __future__ import annotations

__all__ = [
    "EXIT_LOCK_TIMEOUT",
    "ArchiveError",
    "LimitExceeded",
    "LockError",
    "LockTimeout",
    "PonchoError",
    "UnpackError",
    "UnsafeArchive",
    "UnsupportedArchive",
    "shown",
]

EXIT_LOCK_TIMEOUT = 75


def shown(name: str, limit: int = 200) -> str:
    """`name` quoted for a message, its middle elided past `limit` characters (a hostile
    archive's member names can be megabytes long)."""
    if len(name) > limit:
        name = f"{name[: limit // 2]}...{name[-limit // 2 :]}"
    return repr(name)


class PonchoError(Exception):
    """Base class of every error a Poncho package raises on purpose."""

    exit_status = 1


class ArchiveError(PonchoError):
    """Base class of the errors of reading and extracting an archive."""


class UnsupportedArchive(ArchiveError, ValueError):
    """Not an archive of a known format, a corrupt or truncated one, or one whose
    decompressor is missing."""


class UnsafeArchive(ArchiveError, ValueError):
    """An archive member that would write outside the target folder, or a device file.

    `member` is the member's name as stored in the archive, `reason` what is wrong with it
    and `archive` the archive's name for messages (may be empty).
    """

    def __init__(self, member: str, reason: str, archive: str = "") -> None:
        self.member = member
        self.reason = reason
        self.archive = archive
        where = f"{archive}: " if archive else ""
        super().__init__(f"{where}unsafe archive member {shown(member)}: {reason}")

    def __reduce__(self) -> tuple[type[UnsafeArchive], tuple[str, str, str]]:
        return (type(self), (self.member, self.reason, self.archive))


class UnpackError(ArchiveError, OSError):
    """The file system refused a write while extracting (disk full, permissions, ...)."""


class LimitExceeded(PonchoError, ValueError):
    """A size limit was passed: an archive that unpacks to more than allowed (a
    decompression bomb, or more than the free space), or a download over its limit."""


class LockError(PonchoError, OSError):
    """A lock file that cannot be used: a symbolic link or not a regular file."""


class LockTimeout(PonchoError, TimeoutError):
    """Another process held the lock file `path` for longer than `waited` seconds; `pid`
    is the holder's process id when it recorded one, else None."""

    exit_status = EXIT_LOCK_TIMEOUT

    def __init__(self, path: str, waited: float, pid: int | None = None, what: str = "") -> None:
        self.path = path
        self.waited = waited
        self.pid = pid
        self.what = what
        holder = f"another process (pid {pid})" if pid is not None else "another process"
        subject = f"{what}: " if what else ""
        super().__init__(
            f"{subject}still locked by {holder} after waiting {waited:g} s (lock {path}); "
            "try again later"
        )

    def __reduce__(self) -> tuple[type[LockTimeout], tuple[str, float, int | None, str]]:
        return (type(self), (self.path, self.waited, self.pid, self.what))

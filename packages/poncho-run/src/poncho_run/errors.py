"""Errors raised by poncho-run; all derive from `poncho_spec.PonchoError` through `RunError`.

Each error class carries the exit status the command line uses for it, so that the CLI and
the exec path agree: a lock that could not be had in time exits 75 (``EX_TEMPFAIL``, retry
later), a command that does not exist 127 and one that cannot be executed 126 (as a POSIX
shell does), every other poncho-run error 1.
"""

from __future__ import annotations

try:
    from poncho_spec import PonchoError
except ImportError:  # the engine carried inside a copied poncho_package_run: stdlib only

    class PonchoError(Exception):  # type: ignore[no-redef]
        """Stand-in for `poncho_spec.PonchoError` where poncho-spec is not installed."""


__all__ = [
    "EXIT_CANNOT_EXECUTE",
    "EXIT_ERROR",
    "EXIT_LOCK_TIMEOUT",
    "EXIT_NOT_FOUND",
    "EXIT_WRONG_ARCHIVE",
    "CommandNotExecutable",
    "CommandNotFound",
    "EnvironmentNotFound",
    "LockTimeout",
    "PonchoError",
    "RunError",
    "UnpackError",
    "UnsafeArchive",
    "UnsupportedArchive",
    "WrongArchive",
]

EXIT_ERROR = 1
EXIT_LOCK_TIMEOUT = 75
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
#: DIR was unpacked from another archive than the one given.
EXIT_WRONG_ARCHIVE = 65


def shown(name: str, limit: int = 200) -> str:
    """`name` quoted for a message, its middle elided past `limit` characters (a hostile
    archive's member names can be megabytes long)."""
    if len(name) > limit:
        name = f"{name[: limit // 2]}...{name[-limit // 2 :]}"
    return repr(name)


class RunError(PonchoError):
    """Base class of poncho-run's errors."""

    exit_status = EXIT_ERROR


class EnvironmentNotFound(RunError, FileNotFoundError):
    """The environment (tarball or folder) given does not exist."""


class UnsupportedArchive(RunError, ValueError):
    """A file that is not an archive poncho-run can read, or needs a missing decompressor."""


class UnpackError(RunError, OSError):
    """The file system refused a write while unpacking (disk full, permissions, ...)."""


class UnsafeArchive(RunError, ValueError):
    """An archive member that would write outside the target folder (or a device file).

    `member` is the member's name as stored in the archive.
    """

    def __init__(self, member: str, reason: str) -> None:
        self.member = member
        self.reason = reason
        super().__init__(f"unsafe archive member {shown(member)}: {reason}; nothing was run")

    def __reduce__(self) -> tuple[type[UnsafeArchive], tuple[str, str]]:
        return (type(self), (self.member, self.reason))


class LockTimeout(RunError, TimeoutError):
    """Another process held the lock on `path` for longer than `waited` seconds."""

    exit_status = EXIT_LOCK_TIMEOUT

    def __init__(self, path: str, waited: float, lock_file: str) -> None:
        self.path = path
        self.waited = waited
        self.lock_file = lock_file
        super().__init__(
            f"{path}: still being unpacked by another process after waiting {waited:g} s "
            f"(lock {lock_file}); try again later or raise --wait-for-lock"
        )

    def __reduce__(self) -> tuple[type[LockTimeout], tuple[str, float, str]]:
        return (type(self), (self.path, self.waited, self.lock_file))


class CommandNotFound(RunError, FileNotFoundError):
    """The command to run does not exist on the environment's PATH."""

    exit_status = EXIT_NOT_FOUND

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(f"{command}: command not found in the environment")

    def __reduce__(self) -> tuple[type[CommandNotFound], tuple[str]]:
        return (type(self), (self.command,))


class CommandNotExecutable(RunError, PermissionError):
    """The command exists but cannot be executed (no permission, not a program)."""

    exit_status = EXIT_CANNOT_EXECUTE

    def __init__(self, command: str, reason: str) -> None:
        self.command = command
        self.reason = reason
        super().__init__(f"{command}: cannot execute: {reason}")

    def __reduce__(self) -> tuple[type[CommandNotExecutable], tuple[str, str]]:
        return (type(self), (self.command, self.reason))


class WrongArchive(RunError, ValueError):
    """The folder was unpacked from another archive than the one given."""

    exit_status = EXIT_WRONG_ARCHIVE

    def __init__(self, folder: str, archive: str, recorded: str) -> None:
        self.folder = folder
        self.archive = archive
        self.recorded = recorded
        super().__init__(
            f"{folder}: was unpacked from {recorded}, not from {archive} (another archive); "
            "give another folder (-u DIR) for this environment"
        )

    def __reduce__(self) -> tuple[type[WrongArchive], tuple[str, str, str]]:
        return (type(self), (self.folder, self.archive, self.recorded))


class NotAnEnvironment(RunError, ValueError):
    """An unpack folder that is not empty and holds no conda environment."""

"""Errors raised by poncho-run: its own derive from `RunError`; a bad archive raises
poncho-core's `UnsafeArchive`, `UnsupportedArchive`, `UnpackError` or `LimitExceeded` (the
same classes poncho-fetch raises for data archives). All derive from `PonchoError`.

Each error class carries the exit status the command line uses for it, so that the CLI and
the exec path agree: a lock that could not be had in time exits 75 (``EX_TEMPFAIL``, retry
later), a command that does not exist 127 and one that cannot be executed 126 (as a POSIX
shell does), every other poncho-run error 1.
"""

from __future__ import annotations

import os

from poncho_core.errors import (
    EXIT_LOCK_TIMEOUT,
    LimitExceeded,
    PonchoError,
    UnpackError,
    UnsafeArchive,
    UnsupportedArchive,
)
from poncho_core.errors import LockTimeout as _CoreLockTimeout

__all__ = [
    "EXIT_CANNOT_EXECUTE",
    "EXIT_ERROR",
    "EXIT_LOCK_TIMEOUT",
    "EXIT_NOT_FOUND",
    "EXIT_WRONG_ARCHIVE",
    "CommandNotExecutable",
    "CommandNotFound",
    "EnvironmentNotFound",
    "LimitExceeded",
    "LockTimeout",
    "PonchoError",
    "RunError",
    "UnpackError",
    "UnsafeArchive",
    "UnsupportedArchive",
    "WrongArchive",
]

EXIT_ERROR = 1
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
#: DIR was unpacked from another archive than the one given.
EXIT_WRONG_ARCHIVE = 65


class RunError(PonchoError):
    """Base class of poncho-run's errors."""

    exit_status = EXIT_ERROR


class EnvironmentNotFound(RunError, FileNotFoundError):
    """The environment (tarball or folder) given does not exist."""


class LockTimeout(RunError, _CoreLockTimeout):
    """Another process held the lock of the folder `path` for longer than `waited` seconds
    (a `poncho_core.errors.LockTimeout`, worded for an unpack folder)."""

    exit_status = EXIT_LOCK_TIMEOUT

    def __init__(self, path: str, waited: float, lock_file: str) -> None:
        self.folder = path
        self.lock_file = lock_file
        Exception.__init__(
            self,
            f"{path}: still being unpacked by another process after waiting {waited:g} s "
            f"(lock {lock_file}); try again later or raise --wait-for-lock",
        )
        self.path, self.waited, self.pid, self.what = path, waited, None, path

    def __reduce__(self) -> tuple[type[LockTimeout], tuple[str, float, str]]:  # type: ignore[override]
        return (type(self), (self.folder, self.waited, self.lock_file))


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
    """The folder was unpacked from another archive than the one given (or from the same
    path, whose file has changed since); `differs` says how (size, sha256)."""

    exit_status = EXIT_WRONG_ARCHIVE

    def __init__(self, folder: str, archive: str, recorded: str, differs: str = "") -> None:
        self.folder = folder
        self.archive = archive
        self.recorded = recorded
        self.differs = differs
        how = f" ({differs})" if differs else ""
        if os.path.abspath(archive) == os.path.abspath(recorded):  # noqa: PTH100
            what = (
                f"{folder}: was unpacked from {archive} before that file changed{how}; "
                f"give another folder (-u DIR) for this environment, or remove {folder} to "
                "unpack it again"
            )
        else:
            what = (
                f"{folder}: was unpacked from {recorded}, not from {archive}, whose contents "
                f"differ{how}; give another folder (-u DIR) for this environment"
            )
        super().__init__(what)

    def __reduce__(self) -> tuple[type[WrongArchive], tuple[str, str, str, str]]:
        return (type(self), (self.folder, self.archive, self.recorded, self.differs))


class NotAnEnvironment(RunError, ValueError):
    """An unpack folder that is not empty and holds no conda environment."""

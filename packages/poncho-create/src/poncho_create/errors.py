"""Errors raised by poncho-create: each one a message a user can act on."""

from __future__ import annotations

from poncho_spec import PonchoError

__all__ = [
    "ChannelError",
    "CondaExeError",
    "ConfigError",
    "CreateError",
    "LockError",
    "OutputExists",
    "PackError",
    "PackageNotFound",
    "PipError",
    "UnsatisfiableSpec",
]


class CreateError(PonchoError):
    """Base class of every error poncho-create raises on purpose."""


class UnsatisfiableSpec(CreateError):
    """The conda dependencies cannot be solved together; the message names the packages."""


class PackageNotFound(CreateError, LookupError):
    """A requested conda package does not exist in any of the channels."""


class ChannelError(CreateError, OSError):
    """A channel is unreachable or missing; the message names it and the fix that applies.

    `channel` is the channel as the engine read it (None when it cannot say which), `kind`
    one of ``"no folder"``, ``"not a channel"``, ``"not found"``, ``"unreachable"`` and
    ``"unreadable"``, `problem` the words after the channel's name, `fix` the remedy."""

    def __init__(
        self,
        message: str,
        *,
        channel: str | None = None,
        kind: str = "unreadable",
        problem: str = "",
        fix: str = "",
    ) -> None:
        super().__init__(message)
        self.channel, self.kind, self.problem, self.fix = channel, kind, problem, fix


class ConfigError(CreateError, ValueError):
    """The config file (or a channel setting of the environment) is wrong: an unknown key,
    a wrong type, a missing ``$PONCHO_CONFIG`` file. Bad usage: exit status 2."""

    exit_status = 2


class PipError(CreateError):
    """The pip step failed; the message ends with the tail of pip's output."""


class PackError(CreateError):
    """conda-pack could not pack the built prefix."""


class LockError(CreateError, ValueError):
    """A lock file cannot be read, or a locked package cannot be found again."""


class CondaExeError(CreateError):
    """The external conda/mamba/micromamba executable failed or cannot be run."""


class BuildLockTimeout(CreateError, TimeoutError):
    """Another build of the same spec held the cache entry's lock past the deadline
    (``$PONCHO_CREATE_WAIT`` seconds). Exit status 75, as poncho_package_run's lock timeout."""

    exit_status = 75


class OutputExists(CreateError, FileExistsError):
    """OUTPUT exists and is not a tarball create made (``--force`` overwrites it). Exit
    status 2, as bad usage: nothing was built."""

    exit_status = 2

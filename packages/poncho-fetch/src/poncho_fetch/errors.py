"""Errors raised by poncho-fetch: :class:`FetchError` and its subclasses, and poncho-core's
`UnsafeArchive` and `LimitExceeded` (the one class of each, shared with poncho-run) and
`LockTimeout` (exit status 75)."""

from __future__ import annotations

from poncho_core.errors import LimitExceeded, LockTimeout, PonchoError, UnsafeArchive

__all__ = [
    "ChecksumMismatch",
    "DownloadError",
    "FetchError",
    "FetchFailed",
    "GitNotFound",
    "LimitExceeded",
    "LockTimeout",
    "UnsafeArchive",
]


class FetchError(PonchoError):
    """Data named by a spec could not be fetched or made available to a task."""


class DownloadError(FetchError, OSError):
    """An HTTP download failed (after retrying the errors worth retrying)."""


class ChecksumMismatch(FetchError, ValueError):
    """The bytes downloaded do not have the sha256 the spec gives.

    `key` is the spec entry (e.g. ``http.DATA``), `url` where it came from, `expected` and
    `got` the two sha256 hex digests.
    """

    def __init__(self, key: str, url: str, expected: str, got: str) -> None:
        self.key = key
        self.url = url
        self.expected = expected
        self.got = got
        super().__init__(
            f"{key}: sha256 mismatch for {url}: expected {expected}, got {got}"
            " (the file changed on the server, or the spec's sha256 is wrong)"
        )

    def __reduce__(self) -> tuple[type[ChecksumMismatch], tuple[str, str, str, str]]:
        return (type(self), (self.key, self.url, self.expected, self.got))


class GitNotFound(FetchError, FileNotFoundError):
    """The `git` program, needed for the spec's git entries, is not on PATH."""


class FetchFailed(FetchError):
    """Several entries failed; `errors` holds each one's error (in spec order), and
    ``str(err)`` is one line per entry."""

    def __init__(self, errors: list[PonchoError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    def __reduce__(self) -> tuple[type[FetchFailed], tuple[list[PonchoError]]]:
        return (type(self), (self.errors,))

"""Fetch the data a Poncho spec names (git, http) into a node-local cache.

``fetch(spec)`` makes every entry available and returns ``{VAR: path}``;
``DataCache(...).using(spec)`` does the same and keeps the entries safe from eviction while
a task runs. The cache is shared by concurrent processes, filled atomically and evicted
least recently used first; see :mod:`poncho_fetch.cache`.
"""

from __future__ import annotations

from poncho_fetch._version import __version__
from poncho_fetch.api import env_lines, fetch
from poncho_fetch.cache import CacheEntry, DataCache, Lease, default_cache_dir, parse_size
from poncho_fetch.errors import (
    ChecksumMismatch,
    DownloadError,
    FetchError,
    FetchFailed,
    GitNotFound,
    LimitExceeded,
    LockTimeout,
    UnsafeArchive,
)
from poncho_fetch.http import RetryPolicy

__all__ = [
    "CacheEntry",
    "ChecksumMismatch",
    "DataCache",
    "DownloadError",
    "FetchError",
    "FetchFailed",
    "GitNotFound",
    "Lease",
    "LimitExceeded",
    "LockTimeout",
    "RetryPolicy",
    "UnsafeArchive",
    "__version__",
    "default_cache_dir",
    "env_lines",
    "fetch",
    "parse_size",
]

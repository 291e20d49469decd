"""py-rattler's installer callbacks as our progress events: "download" (bytes) and
"install" (packages)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from poncho_create.progress import Reporter, counted

if TYPE_CHECKING:
    from rattler import RepoDataRecord

__all__ = ["InstallProgress"]


class InstallProgress:
    """rattler's installer reporter -> our "download" (bytes) and "install" (packages) events."""

    def __init__(self, records: Sequence[RepoDataRecord], report: Reporter) -> None:
        self._report = report
        self._records = list(records)
        self._sizes = {record.name.normalized: record.size or 0 for record in records}
        self._total_bytes = sum(self._sizes.values())
        self._ops: dict[int, str] = {}
        self._bytes: dict[str, int] = {}
        self._linked = 0
        self._lock = threading.Lock()
        count = len(self._records)
        report.start("download", self._total_bytes, "bytes", counted(count, "packages"))
        report.start("install", count, "packages")

    # The rattler callbacks (structural InstallerReporter protocol).
    def on_populate_cache_start(self, operation: int, package_name: str) -> int:
        """A package starts to be fetched into the cache; its token."""
        with self._lock:
            self._ops[operation] = package_name
        return operation

    def on_download_start(self, cache_entry: int) -> int:
        """A download starts; its token."""
        return cache_entry

    def on_download_progress(self, download_idx: int, progress: int, total: int | None) -> None:
        """Bytes downloaded so far for one package."""
        name = self._ops.get(download_idx, str(download_idx))
        with self._lock:
            self._bytes[name] = progress
            done = sum(self._bytes.values())
        self._report("download", done, self._total_bytes, "bytes")

    def on_populate_cache_complete(self, cache_entry: int) -> None:
        """A package is in the cache (downloaded or found there)."""
        name = self._ops.get(cache_entry, str(cache_entry))
        with self._lock:
            self._bytes[name] = self._sizes.get(name, self._bytes.get(name, 0))
            done = sum(self._bytes.values())
        self._report("download", done, self._total_bytes, "bytes")

    def on_link_complete(self, index: int) -> None:
        """A package is linked into the prefix."""
        with self._lock:
            self._linked += 1
            linked = self._linked
        self._report("install", linked, len(self._records), "packages")

    def __getattr__(self, name: str) -> Any:
        # Every other callback of the protocol: accept and ignore (tokens are ints).
        if name.startswith("on_"):
            return lambda *args: 0
        raise AttributeError(name)

    def done(self) -> None:
        """Report both phases finished."""
        count = len(self._records)
        self._report.finish(
            "download", self._total_bytes, self._total_bytes, "bytes", counted(count, "packages")
        )
        self._report.finish("install", count, count, "packages")

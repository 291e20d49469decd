"""The cache's entries on disk: ``entries/<key>/`` with ``meta.json`` (what the entry is, its
size, the path its variable points at), ``.used`` (its modification time is the last use)
and the data. An entry without a valid ``meta.json`` is incomplete and never served."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poncho_fetch.errors import FetchError

__all__ = ["FORMAT", "META", "USED", "CacheEntry", "complete_meta", "list_entries", "read_meta"]

log = logging.getLogger(__name__)

META = "meta.json"
USED = ".used"
FORMAT = 1


@dataclass(frozen=True)
class CacheEntry:
    """What the cache holds for one key: its folder, size in bytes, last use (epoch
    seconds) and the metadata written when it was filled."""

    key: str
    path: Path
    size: int
    last_used: float
    meta: Mapping[str, Any]


def read_meta(entry: Path) -> dict[str, Any]:
    """The metadata of `entry`; FetchError if it is unreadable or names a path outside it."""
    try:
        meta = json.loads((entry / META).read_text())
    except (OSError, ValueError) as exc:
        raise FetchError(f"cache entry {entry} is unreadable: {exc}") from exc
    path = meta.get("path") if isinstance(meta, dict) else None
    if not isinstance(path, str) or Path(path).is_absolute() or ".." in Path(path).parts:
        raise FetchError(f"cache entry {entry} has an invalid {META}")
    return dict(meta)


def complete_meta(entry: Path) -> dict[str, Any] | None:
    """The metadata of a complete entry, or None if it is missing or damaged."""
    if not (entry / META).exists():
        return None
    try:
        return read_meta(entry)
    except FetchError as exc:
        log.warning("%s", exc)
        return None


def list_entries(folder: Path) -> list[CacheEntry]:
    """Every complete entry under `folder`, least recently used first."""
    found: list[CacheEntry] = []
    try:
        folders = list(folder.iterdir())
    except FileNotFoundError:
        return []
    for entry in folders:
        try:
            meta = read_meta(entry)
            used = mtime(entry / USED) or mtime(entry / META)
            size = int(meta.get("size", 0))
        except (OSError, ValueError, FetchError):
            continue  # being evicted right now, or not ours
        found.append(CacheEntry(entry.name, entry, size, used, meta))
    found.sort(key=lambda e: (e.last_used, e.key))
    return found


def touch(path: Path) -> None:
    """Record a use: set the modification time of `path` (made if missing) to now."""
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()
    except OSError as exc:  # a read-only cache still serves its data
        log.debug("cannot record use of %s: %s", path, exc)


def mtime(path: Path) -> float:
    """The modification time of `path`, 0 if it cannot be read."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0

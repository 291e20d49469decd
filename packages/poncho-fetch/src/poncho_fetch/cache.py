"""The node-local data cache: shared by concurrent tasks, filled atomically, LRU-evicted.

Layout under the cache root::

    entries/<key>/meta.json      what the entry is, its size, the path the variable points at
    entries/<key>/.used          its modification time is the last use (for LRU eviction)
    entries/<key>/data[/<file>]  the content
    locks/<key>.lock             "in use" lock: shared by every task using the entry
    locks/<key>.fill             taken exclusively by the one process filling the entry
    locks/evict.lock             one evicting process at a time
    tmp/<key>.<random>/          entries being filled or deleted; never read

An entry is published by renaming its complete folder from ``tmp/`` into ``entries/``,
so a fill interrupted half-way is never seen; the next process to fill that key removes the
leftovers. A task holds a shared lock on ``locks/<key>.lock`` for as long as it uses the
entry; eviction takes that lock exclusively *without waiting* and skips entries it cannot
get, so an entry in use is never removed. Lock files are never deleted (deleting a lock
file others may hold open would let two processes "hold" it at once); they are empty.
Locks are poncho-core's (`poncho_core.lock`, ``flock``): they belong to the open file,
survive ``exec`` when the descriptor is inheritable, and vanish when the last process
holding the file exits. Every wait has a deadline (`RetryPolicy.lock_wait`).

The entries' layout is :mod:`poncho_fetch.entries`; the settings from the environment are
:mod:`poncho_fetch.settings`; a task's hold on its entries is :class:`poncho_fetch.lease.Lease`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_core import lock as core_lock
from poncho_core.compression import DEFAULT_MAX_RATIO
from poncho_core.errors import PonchoError
from poncho_core.fs import parse_size, rmtree, tree_size
from poncho_fetch._sources import Planned, check_size, entry_limits, plan
from poncho_fetch.entries import (
    FORMAT,
    META,
    USED,
    CacheEntry,
    complete_meta,
    list_entries,
    touch,
)
from poncho_fetch.errors import FetchError, FetchFailed
from poncho_fetch.lease import Lease
from poncho_fetch.settings import CACHE_ENV, default_cache_dir, max_size_from_env

if TYPE_CHECKING:
    from poncho_fetch.http import RetryPolicy
    from poncho_spec import Spec

__all__ = [
    "CacheEntry",
    "DataCache",
    "Lease",
    "default_cache_dir",
    "max_size_from_env",
    "parse_size",
]

log = logging.getLogger(__name__)


class DataCache:
    """A node-local cache of the data specs name, shared by concurrent processes.

    `cache_dir` defaults to :func:`default_cache_dir`; `max_bytes` (default
    ``$PONCHO_FETCH_MAX_SIZE``, else no limit) is the size above which least recently used
    entries not in use are evicted after each fill, and also a hard limit on each entry
    (enforced while it downloads and unpacks). `policy` tunes HTTP retries, timeouts and
    deadlines; `max_ratio` bounds decompression (see :mod:`poncho_core.compression`).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        *,
        policy: RetryPolicy | None = None,
        max_ratio: float | None = DEFAULT_MAX_RATIO,
    ) -> None:
        from poncho_fetch.http import RetryPolicy

        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.root = root.expanduser().absolute()
        self.max_bytes = max_bytes if max_bytes is not None else max_size_from_env()
        self.policy = policy or RetryPolicy()
        self.limits = entry_limits(self.max_bytes, max_ratio)
        self._entries = self.root / "entries"
        self._locks = self.root / "locks"
        self._tmp = self.root / "tmp"

    # -- using entries ---------------------------------------------------------------

    def acquire(self, spec: Spec, *, inheritable: bool = False) -> Lease:
        """Make every git/http entry of `spec` available and hold them in use.

        Fills missing entries (one process downloads, concurrent ones wait for it), then
        evicts old entries if the cache is over its limit. Release the returned Lease (or
        use it as a context manager) when the task is done.

        Every entry is tried even when some fail; then the failure of a single entry is
        raised as is, those of several as one FetchFailed (one line per entry).
        """
        self._makedirs()
        work, failures = plan(spec, self.policy, self.limits)
        env: dict[str, str] = {}
        locks: list[core_lock.FileLock] = []
        filled = False
        try:
            for item in work:
                try:
                    held, path, was_filled = self._hold(item)
                except PonchoError as exc:  # FetchError, UnsafeArchive, LockTimeout, ...
                    failures.append(exc)
                    continue
                except OSError as exc:  # the cache folder changed under us, a full disk
                    failures.append(
                        FetchError(f"{item.label}: data cache {self.root}: {_why(exc)}")
                    )
                    continue
                if held is not None:  # None: a read-only cache, which nobody evicts
                    locks.append(held)
                    if inheritable:
                        held.set_inheritable()
                env[item.var] = str(path)
                filled = filled or was_filled
            if failures:
                order = {f"{s}.{var}": i for i, (s, var) in enumerate(_labels(spec))}
                failures.sort(key=lambda e: order.get(str(e).split(":", 1)[0], len(order)))
                raise failures[0] if len(failures) == 1 else FetchFailed(failures)
        except BaseException:
            for held in locks:
                held.release()
            raise
        if filled and self.max_bytes is not None:
            try:
                self.evict()
            except OSError as exc:
                log.warning("eviction failed: %s", exc)
        return Lease(env, locks)

    @contextmanager
    def using(self, spec: Spec, *, inheritable: bool = False) -> Iterator[dict[str, str]]:
        """Context manager: the ``{VAR: path}`` of `spec`'s entries, held in use inside.

        With `inheritable`, the lock descriptors survive ``os.exec*`` so that the task
        process keeps the entries protected (use :meth:`acquire` to get the descriptors).
        """
        with self.acquire(spec, inheritable=inheritable) as lease:
            yield dict(lease.env)

    def _hold(self, item: Planned) -> tuple[core_lock.FileLock | None, Path, bool]:
        wait = self.policy.lock_wait
        held = self._lock(f"{item.key}.lock", shared=True, timeout=wait, what=item.label)
        if held is None:
            return None, self._read_only_entry(item), False
        try:
            entry = self._entries / item.key
            filled = False
            meta = complete_meta(entry)
            if meta is None:
                fill_lock = f"{item.label}: another process filling the entry"
                with self._locked(f"{item.key}.fill", timeout=wait, what=fill_lock):
                    meta = complete_meta(entry)
                    if meta is None:
                        meta = self._fill(item, entry)
                        filled = True
            touch(entry / USED)
            return held, entry / str(meta["path"]), filled
        except BaseException:
            held.release()
            raise

    def _fill(self, item: Planned, entry: Path) -> dict[str, Any]:
        # Holding the fill lock (no other filler) and a shared lock (no evictor): what is
        # left under tmp/ for this key comes from an interrupted process.
        for stale in self._tmp.glob(f"{item.key}.*"):
            log.debug("removing leftover %s", stale)
            rmtree(stale)
        if entry.exists():  # damaged: no valid meta.json (nobody can be using it)
            log.warning("replacing damaged cache entry %s", entry)
            rmtree(entry)
        work = Path(tempfile.mkdtemp(prefix=f"{item.key}.", dir=self._tmp))
        try:
            log.info("%s: filling cache entry %s", item.label, item.key)
            rel = item.fill(work)
            size = tree_size(work)
            check_size(item.label, size, self.limits)
            meta: dict[str, Any] = {
                "format": FORMAT,
                "key": item.key,
                "path": rel,
                "size": size,
                "created": time.time(),
                "source": item.identity,
            }
            (work / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
            (work / USED).touch()
            work.chmod(0o755)  # mkdtemp makes it 0700
            work.replace(entry)
        except BaseException:
            rmtree(work)
            raise
        return meta

    # -- eviction ----------------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, least recently used first."""
        return list_entries(self._entries)

    def size(self) -> int:
        """Bytes held by complete entries (as measured when they were filled)."""
        return sum(e.size for e in self.entries())

    def evict(self, max_bytes: int | None = None) -> list[str]:
        """Remove least recently used entries not in use until the cache holds at most
        `max_bytes` (default: the cache's limit; nothing happens without one).

        Returns the keys removed. Entries in use are skipped, so the cache may stay over
        the limit. If another process is evicting, returns at once.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        if limit is None:
            return []
        self._makedirs()
        with self._locked("evict.lock") as got:
            if not got:
                log.debug("another process is evicting")
                return []
            self._remove_leftovers()
            entries = self.entries()
            total = sum(e.size for e in entries)
            removed: list[str] = []
            for entry in entries:
                if total <= limit:
                    break
                if self._evict_one(entry.key):
                    total -= entry.size
                    removed.append(entry.key)
            if total > limit > 0:
                log.warning(
                    "data cache %s holds %d bytes, over its %d byte limit: the rest is in use",
                    self.root,
                    total,
                    limit,
                )
            return removed

    def clear(self) -> list[str]:
        """Remove every entry not in use; returns the keys removed."""
        return self.evict(0)

    def busy(self, key: str) -> bool:
        """Whether a task holds the entry `key` (what `remove` would keep); writes nothing."""
        if not (self._locks / f"{key}.lock").is_file():
            return False
        with self._locked(f"{key}.lock") as got:
            return not got

    def remove(self, key: str) -> bool:
        """Remove the entry `key` unless a task uses it or another process is evicting;
        True if it was removed (``poncho cache prune`` chooses entries by age)."""
        self._makedirs()
        with self._locked("evict.lock") as got:
            return bool(got) and self._evict_one(key)

    def _evict_one(self, key: str) -> bool:
        with self._locked(f"{key}.lock") as got:
            if not got:
                log.debug("keeping %s: in use", key)
                return False
            entry = self._entries / key
            if not entry.exists():
                return False
            # Rename first: an eviction interrupted half-way leaves no half entry behind.
            trash = Path(tempfile.mkdtemp(prefix=f"{key}.evicted-", dir=self._tmp))
            entry.replace(trash / "entry")
            log.info("evicting %s", key)
            rmtree(trash)
            return True

    def _remove_leftovers(self) -> None:
        """Remove tmp/ folders of interrupted fills and evictions no process is working on."""
        try:
            leftovers = list(self._tmp.iterdir())
        except FileNotFoundError:
            return
        for path in leftovers:
            key = path.name.split(".", 1)[0]
            with self._locked(f"{key}.lock") as got:
                if got:
                    rmtree(path)

    # -- locks and folders -------------------------------------------------------------

    def _makedirs(self) -> None:
        for folder in (self._entries, self._locks, self._tmp):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, a name too long, no permission
                read_only = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                if read_only and self._entries.is_dir():
                    continue  # a read-only cache: its complete entries are still served
                raise FetchError(
                    f"cannot use the data cache folder {self.root}: {folder}: {_why(exc)} "
                    f"(give another --cache-dir or ${CACHE_ENV})"
                ) from None

    def _read_only_entry(self, item: Planned) -> Path:
        """The data of `item` in a cache this process cannot write: served when complete,
        else an error saying what to do (nothing is written, nothing is evicted)."""
        entry = self._entries / item.key
        meta = complete_meta(entry)
        if meta is None:
            raise FetchError(
                f"{item.label}: not in the read-only data cache {self.root}, and it cannot be "
                "fetched into it: ask its owner to prefetch it (poncho_fetch --cache-dir), or "
                f"give a writable --cache-dir or ${CACHE_ENV}"
            )
        return entry / str(meta["path"])

    def _lock(
        self, name: str, *, shared: bool = False, timeout: float | None, what: str
    ) -> core_lock.FileLock | None:
        """Lock locks/<name>; None if `timeout` is 0 and another process holds it, or if
        the cache is read-only and the lock file does not exist (nobody evicts there).
        After `timeout` seconds, `LockTimeout` (exit status 75) naming `what`."""
        try:
            fd = core_lock.open_lock_file(self._locks / name)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return None  # flock needs no write access: only a missing file ends here
            raise
        return core_lock.acquire(
            self._locks / name, shared=shared, timeout=timeout, what=what, fd=fd
        )

    @contextmanager
    def _locked(self, name: str, *, timeout: float | None = 0, what: str = "") -> Iterator[bool]:
        """Hold an exclusive lock on locks/<name> for the block; yields False if it is
        taken (with `timeout` 0) or if the cache is read-only."""
        held = self._lock(name, timeout=timeout, what=what or name)
        if held is None:
            yield False
            return
        with held:
            yield True


def _why(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason += " (a file is where a folder should be)"
    return reason


def _labels(spec: Spec) -> list[tuple[str, str]]:
    return [("git", var) for var in spec.git] + [("http", var) for var in spec.http]

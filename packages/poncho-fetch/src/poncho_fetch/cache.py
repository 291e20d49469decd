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
Locks are ``flock`` locks: they belong to the open file, survive ``exec`` when the
descriptor is inheritable, and vanish when the last process holding the file exits.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from poncho_fetch import extract
from poncho_fetch._sources import Limits, Planned, check_size, plan
from poncho_fetch.errors import FetchError, FetchFailed
from poncho_core.fs import parse_size, rmtree

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

CACHE_ENV = "PONCHO_FETCH_CACHE"
MAX_SIZE_ENV = "PONCHO_FETCH_MAX_SIZE"
_META = "meta.json"
_USED = ".used"
_FORMAT = 1


def default_cache_dir() -> Path:
    """``$PONCHO_FETCH_CACHE``, else ``$XDG_CACHE_HOME/poncho/data``, else
    ``~/.cache/poncho/data``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "poncho" / "data"


def max_size_from_env() -> int | None:
    """The size limit ``$PONCHO_FETCH_MAX_SIZE`` gives, or None (no limit) when unset."""
    value = os.environ.get(MAX_SIZE_ENV, "").strip()
    if not value:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise FetchError(f"${MAX_SIZE_ENV}: {exc}") from None


@dataclass(frozen=True)
class CacheEntry:
    """What the cache holds for one key: its folder, size in bytes, last use (epoch
    seconds) and the metadata written when it was filled."""

    key: str
    path: Path
    size: int
    last_used: float
    meta: Mapping[str, Any]


class Lease:
    """Entries of one spec, held "in use" (shared locks) until :meth:`release`.

    `env` maps each variable to its absolute path; `lock_fds` are the descriptors holding
    the locks. A process that ``exec``s the task can keep the entries protected by making
    the descriptors inheritable (``inheritable=True``); with :mod:`subprocess`, pass them in
    ``pass_fds``. The locks last until every process holding the descriptors closes them.
    """

    def __init__(self, env: dict[str, str], files: list[IO[bytes]]) -> None:
        self.env = env
        self._files = files

    @property
    def lock_fds(self) -> tuple[int, ...]:
        """The file descriptors holding the shared locks (empty once released)."""
        return tuple(f.fileno() for f in self._files)

    def release(self) -> None:
        """Drop the locks held by this process (idempotent)."""
        files, self._files = self._files, []
        for f in files:
            f.close()

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class DataCache:
    """A node-local cache of the data specs name, shared by concurrent processes.

    `cache_dir` defaults to :func:`default_cache_dir`; `max_bytes` (default
    ``$PONCHO_FETCH_MAX_SIZE``, else no limit) is the size above which least recently used
    entries not in use are evicted after each fill, and also a hard limit on each entry
    (enforced while it downloads and unpacks). `policy` tunes HTTP retries, timeouts and
    deadlines; `max_ratio` bounds decompression (see :mod:`poncho_fetch.extract`).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        *,
        policy: RetryPolicy | None = None,
        max_ratio: float | None = extract.DEFAULT_MAX_RATIO,
    ) -> None:
        from poncho_fetch.http import RetryPolicy

        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.root = root.expanduser().absolute()
        self.max_bytes = max_bytes if max_bytes is not None else max_size_from_env()
        self.policy = policy or RetryPolicy()
        self.limits = Limits(self.max_bytes, max_ratio)
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
        files: list[IO[bytes]] = []
        filled = False
        try:
            for item in work:
                try:
                    lock_file, path, was_filled = self._hold(item)
                except FetchError as exc:
                    failures.append(exc)
                    continue
                except OSError as exc:  # the cache folder changed under us, a full disk
                    failures.append(
                        FetchError(f"{item.label}: data cache {self.root}: {_why(exc)}")
                    )
                    continue
                if lock_file is not None:  # None: a read-only cache, which nobody evicts
                    files.append(lock_file)
                    if inheritable:
                        os.set_inheritable(lock_file.fileno(), True)
                env[item.var] = str(path)
                filled = filled or was_filled
            if failures:
                order = {f"{s}.{var}": i for i, (s, var) in enumerate(_labels(spec))}
                failures.sort(key=lambda e: order.get(str(e).split(":", 1)[0], len(order)))
                raise failures[0] if len(failures) == 1 else FetchFailed(failures)
        except BaseException:
            for f in files:
                f.close()
            raise
        if filled and self.max_bytes is not None:
            try:
                self.evict()
            except OSError as exc:
                log.warning("eviction failed: %s", exc)
        return Lease(env, files)

    @contextlib.contextmanager
    def using(self, spec: Spec, *, inheritable: bool = False) -> Iterator[dict[str, str]]:
        """Context manager: the ``{VAR: path}`` of `spec`'s entries, held in use inside.

        With `inheritable`, the lock descriptors survive ``os.exec*`` so that the task
        process keeps the entries protected (use :meth:`acquire` to get the descriptors).
        """
        with self.acquire(spec, inheritable=inheritable) as lease:
            yield dict(lease.env)

    def _hold(self, item: Planned) -> tuple[IO[bytes] | None, Path, bool]:
        lock_file = self._open_lock(f"{item.key}.lock")
        if lock_file is None:
            return None, self._read_only_entry(item), False
        wait = self.policy.lock_wait
        try:
            _lock(lock_file, shared=True, timeout=wait, what=f"{item.label}: cache entry")
            entry = self._entries / item.key
            filled = False
            meta = _complete_meta(entry)
            if meta is None:
                fill_lock = f"{item.label}: another process filling the entry"
                with self._locked(f"{item.key}.fill", timeout=wait, what=fill_lock):
                    meta = _complete_meta(entry)
                    if meta is None:
                        meta = self._fill(item, entry)
                        filled = True
            _touch(entry / _USED)
            return lock_file, entry / str(meta["path"]), filled
        except BaseException:
            lock_file.close()
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
            size = _tree_size(work)
            check_size(item.label, size, self.limits)
            meta: dict[str, Any] = {
                "format": _FORMAT,
                "key": item.key,
                "path": rel,
                "size": size,
                "created": time.time(),
                "source": item.identity,
            }
            (work / _META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
            (work / _USED).touch()
            work.chmod(0o755)  # mkdtemp makes it 0700
            work.replace(entry)
        except BaseException:
            rmtree(work)
            raise
        return meta

    # -- eviction ----------------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, least recently used first."""
        found: list[CacheEntry] = []
        try:
            folders = list(self._entries.iterdir())
        except FileNotFoundError:
            return []
        for folder in folders:
            try:
                meta = _read_meta(folder)
                used = _mtime(folder / _USED) or _mtime(folder / _META)
                size = int(meta.get("size", 0))
            except (OSError, ValueError, FetchError):
                continue  # being evicted right now, or not ours
            found.append(CacheEntry(folder.name, folder, size, used, meta))
        found.sort(key=lambda e: (e.last_used, e.key))
        return found

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
        with self._locked("evict.lock", wait=False) as got:
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

    def remove(self, key: str) -> bool:
        """Remove the entry `key` unless a task uses it or another process is evicting;
        True if it was removed (``poncho cache prune`` chooses entries by age)."""
        self._makedirs()
        with self._locked("evict.lock", wait=False) as got:
            return bool(got) and self._evict_one(key)

    def _evict_one(self, key: str) -> bool:
        with self._locked(f"{key}.lock", wait=False) as got:
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
            with self._locked(f"{key}.lock", wait=False) as got:
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

    def _open_lock(self, name: str) -> IO[bytes] | None:
        """The lock file locks/<name>, opened close-on-exec; None in a read-only cache
        where it does not exist (and cannot be made)."""
        path = self._locks / name
        try:
            # Append mode creates the file without truncating.
            return open(path, "ab", buffering=0)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
        try:  # flock needs no write access: another user's lock file still locks
            return open(path, "rb", buffering=0)
        except FileNotFoundError:
            return None

    def _read_only_entry(self, item: Planned) -> Path:
        """The data of `item` in a cache this process cannot write: served when complete,
        else an error saying what to do (nothing is written, nothing is evicted)."""
        entry = self._entries / item.key
        meta = _complete_meta(entry)
        if meta is None:
            raise FetchError(
                f"{item.label}: not in the read-only data cache {self.root}, and it cannot be "
                "fetched into it: ask its owner to prefetch it (poncho_fetch --cache-dir), or "
                f"give a writable --cache-dir or ${CACHE_ENV}"
            )
        return entry / str(meta["path"])

    @contextlib.contextmanager
    def _locked(
        self, name: str, *, wait: bool = True, timeout: float | None = None, what: str = ""
    ) -> Iterator[bool]:
        """Hold an exclusive lock on locks/<name>; yields False if `wait` is False and the
        lock is taken, or if the cache is read-only. With `timeout`, FetchError (naming
        `what`) once it has passed."""
        f = self._open_lock(name)
        if f is None:
            yield False
            return
        with f:
            yield _lock(f, wait=wait, timeout=timeout, what=what)


def _lock(
    f: IO[bytes],
    *,
    shared: bool = False,
    wait: bool = True,
    timeout: float | None = None,
    what: str = "",
) -> bool:
    """Lock the open file `f` (flock); False if `wait` is False and someone holds it.

    With `timeout`, waits at most that many seconds, then raises FetchError naming `what`.
    """
    import portalocker  # imported here: it takes a good part of poncho_fetch's import time

    flags = portalocker.LockFlags.SHARED if shared else portalocker.LockFlags.EXCLUSIVE
    try:
        portalocker.lock(f, flags | portalocker.LockFlags.NON_BLOCKING)
        return True
    except portalocker.LockException as exc:  # AlreadyLocked in recent portalocker
        if not wait:
            return False
        if timeout is None:
            try:
                portalocker.lock(f, flags)
            except portalocker.LockException as again:
                raise FetchError(f"cannot lock {f.name}: {again}") from exc
            return True
    if _wait_for_lock(f, flags, timeout):
        return True
    raise FetchError(f"{what or f.name}: still locked after {timeout:g} s; giving up")


def _wait_for_lock(f: IO[bytes], flags: Any, timeout: float) -> bool:
    """Wait for a flock in the kernel (queued like any waiter, woken at once when it is
    free), from a helper thread, at most `timeout` seconds.

    The thread locks a duplicate of the descriptor: flock locks belong to the open file, so
    the lock it gets is `f`'s. If the wait is abandoned, the thread drops the lock as soon
    as it gets it, and closes the duplicate.
    """
    import portalocker

    state = {"locked": False, "cancelled": False}
    mutex = threading.Lock()
    done = threading.Event()
    dup = os.fdopen(os.dup(f.fileno()), "rb", buffering=0)

    def take() -> None:
        try:
            portalocker.lock(dup, flags)
            with mutex:
                if state["cancelled"]:
                    portalocker.unlock(dup)
                else:
                    state["locked"] = True
        except (portalocker.LockException, OSError):
            pass
        finally:
            dup.close()
            done.set()

    threading.Thread(target=take, name="poncho-fetch-lock", daemon=True).start()
    done.wait(timeout)
    with mutex:
        if not state["locked"]:
            state["cancelled"] = True
        return state["locked"]


def _why(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason += " (a file is where a folder should be)"
    return reason


def _labels(spec: Spec) -> list[tuple[str, str]]:
    return [("git", var) for var in spec.git] + [("http", var) for var in spec.http]


def _read_meta(entry: Path) -> dict[str, Any]:
    try:
        meta = json.loads((entry / _META).read_text())
    except (OSError, ValueError) as exc:
        raise FetchError(f"cache entry {entry} is unreadable: {exc}") from exc
    path = meta.get("path") if isinstance(meta, dict) else None
    if not isinstance(path, str) or Path(path).is_absolute() or ".." in Path(path).parts:
        raise FetchError(f"cache entry {entry} has an invalid {_META}")
    return dict(meta)


def _complete_meta(entry: Path) -> dict[str, Any] | None:
    """The metadata of a complete entry, or None if it is missing or damaged."""
    if not (entry / _META).exists():
        return None
    try:
        return _read_meta(entry)
    except FetchError as exc:
        log.warning("%s", exc)
        return None


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()
    except OSError as exc:  # a read-only cache still serves its data
        log.debug("cannot record use of %s: %s", path, exc)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _tree_size(root: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total

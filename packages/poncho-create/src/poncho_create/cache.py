"""The environment cache: tarballs named by what they were built from.

Name: ``<spec hash>-<platform>.<format>``, plus ``-<12 hex>`` before the format when the
build also depends on options (channel changes, pip index options and configuration, a
lock, a compression level) or on local files (the spec's local pip paths, ``--find-links``
folders); the hex is a sha256 of those.
Entries appear atomically (``os.replace`` of a complete file), so a
lookup needs no lock; builders of the same entry take an exclusive lock (poncho-core's
``flock``) on ``.locks/<name>.lock`` so a second concurrent build waits and then finds the
first one's tarball.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from poncho_core.errors import LockTimeout
from poncho_core.fs import tree_size
from poncho_core.lock import FileLock, acquire

__all__ = ["CachedFile", "EnvCache", "PackageCache", "cache_name"]


def cache_name(
    spec_hash: str,
    platform: str,
    fmt: str,
    *,
    channels: Sequence[str] | None = None,
    pip_options: Sequence[str] = (),
    lock_digest: str | None = None,
    local_inputs: str | None = None,
    level: int | None = None,
) -> str:
    """The cache file name for a build. `channels` is the channel list when it differs from
    the spec's own; `pip_options` the index options given; `lock_digest` the sha256 of the
    lock file used with ``--from-lock``; `local_inputs` the digest of the local pip paths
    and ``--find-links`` folders (see `poncho_create.local_inputs`); `level` a compression
    level given (None: the format's default)."""
    variant = {
        key: value
        for key, value in (
            ("channels", list(channels) if channels is not None else None),
            ("pip", list(pip_options) or None),
            ("lock", lock_digest),
            ("local", local_inputs),
            ("level", level),
        )
        if value is not None
    }
    name = f"{spec_hash}-{platform}"
    if variant:
        blob = json.dumps(variant, sort_keys=True, separators=(",", ":")).encode()
        name += "-" + hashlib.sha256(blob).hexdigest()[:12]
    return f"{name}.{fmt}"


@dataclass(frozen=True)
class CachedFile:
    """One entry of a cache: its name, path, size in bytes and last use (epoch seconds)."""

    name: str
    path: Path
    size: int
    last_used: float


class EnvCache:
    """A folder of environment tarballs (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        """Where the entry `name` lives (it may not exist)."""
        return self.root / name

    def lookup(self, name: str) -> Path | None:
        """The entry's path if it exists, else None."""
        path = self.path(name)
        return path if path.is_file() else None

    @contextlib.contextmanager
    def building(
        self,
        name: str,
        on_wait: Callable[[int | None], None] | None = None,
        timeout: float | None = None,
    ) -> Iterator[None]:
        """Hold the exclusive build lock of `name`, waiting while another process holds it.

        Before waiting, `on_wait` gets the holder's process id (written into the lock file
        by the holder; None if unknown), so a second build of one spec does not wait in
        silence. The lock file then holds this process's id. After `timeout` seconds of
        waiting (None: no limit), BuildLockTimeout names the holder.
        """
        path = self.root / ".locks" / f"{name}.lock"
        try:
            held = _lock(path, timeout=timeout, record_pid=True, on_wait=on_wait)
        except LockTimeout as exc:
            from poncho_create.errors import BuildLockTimeout

            holder = f" (pid {exc.pid})" if exc.pid is not None else ""
            raise BuildLockTimeout(
                f"another build of this spec{holder} still holds {path} after {timeout:g} s "
                "($PONCHO_CREATE_WAIT)"
            ) from None
        assert held is not None  # None only for a timeout of 0
        with held:
            yield

    def entries(self) -> list[CachedFile]:
        """Every tarball in the cache, least recently used (built or hit) first."""
        return _entries(self.root, lambda p: p.is_file() and p.name.endswith(_ENDINGS))

    def busy(self, name: str) -> bool:
        """Whether a build of `name` is running (what `remove` would keep); writes nothing."""
        return _held(self.root / ".locks" / f"{name}.lock")

    def remove(self, name: str) -> bool:
        """Remove the tarball `name` unless a build of it is running; True if removed.

        A task reading the tarball meanwhile keeps reading it: its open file stays whole.
        """
        held = _lock(self.root / ".locks" / f"{name}.lock", timeout=0)
        if held is None:
            return False
        with held:
            self.path(name).unlink(missing_ok=True)
            return True


class PackageCache:
    """The conda package download cache (``--pkgs-dir``), shared by builds.

    A build holds `in_use` (a shared lock on ``.poncho-in-use.lock``) from its install to
    the end of its packing, since conda-pack reads the packages' files there; `remove`
    takes the lock exclusively without waiting, so it never removes what a build reads.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Hold the cache in use (shared with other builds) for the ``with`` block; a cache
        one cannot write to needs no lock (nobody here can prune it either)."""
        try:
            held = _lock(self.root / _IN_USE, shared=True, timeout=_IN_USE_WAIT)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            held = None
        with held or contextlib.nullcontext():
            yield

    def busy(self) -> bool:
        """Whether a build uses the cache (`remove` would remove nothing); writes nothing."""
        return _held(self.root / _IN_USE)

    def mark_used(self, names: Iterable[str]) -> None:
        """Record that a build used the packages `names` (``name-version-build``): their
        folders' and archives' modification time is their last use (see `entries`). A
        package missing, or in a cache one cannot write, is passed over."""
        for name in names:
            for path in (self.root / name, *(self.root / f"{name}{e}" for e in _PACKAGES)):
                with contextlib.suppress(OSError):
                    os.utime(path)

    def entries(self) -> list[CachedFile]:
        """Every package (folder or archive) and the repodata cache, least recently used
        first (a build marks what it used, `mark_used`)."""
        # rattler's own lock files (<package>.lock, .cache.lock) go with their package.
        return _entries(
            self.root, lambda p: not p.name.endswith(".lock") and p.name != "CACHEDIR.TAG"
        )

    def remove(self, names: Sequence[str]) -> list[str] | None:
        """Remove the entries `names`; None (and nothing removed) while a build uses the
        cache. Returns the names removed."""
        from poncho_core.fs import rmtree

        held = _lock(self.root / _IN_USE, timeout=0)
        if held is None:
            return None
        with held:
            for name in names:
                rmtree(self.root / name)
                (self.root / f"{name}.lock").unlink(missing_ok=True)
            return list(names)


_IN_USE = ".poncho-in-use.lock"
_PACKAGES = (".conda", ".tar.bz2")
# A prune holds the package cache for the seconds it takes to remove files; a build waits
# that long at most before saying so.
_IN_USE_WAIT = 600.0
_ENDINGS = (".tar.gz", ".tgz", ".tar.zst", ".tar.bz2", ".tar")


def _entries(root: Path, wanted: Callable[[Path], bool]) -> list[CachedFile]:
    try:
        children = [p for p in root.iterdir() if not p.name.startswith(".locks") and wanted(p)]
    except FileNotFoundError:
        return []
    found = []
    for path in children:
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        folder = path.is_dir() and not path.is_symlink()
        size = tree_size(path) if folder else st.st_size
        # Last use: for a file, a read or a cache hit sets the access time, a build the
        # modification time; a folder's access time changes whenever it is listed (by us).
        used = st.st_mtime if folder else max(st.st_atime, st.st_mtime)
        found.append(CachedFile(path.name, path, size, used))
    return sorted(found, key=lambda e: (e.last_used, e.name))


def _held(path: Path) -> bool:
    """Whether another process holds the lock `path`: a probe that takes it and lets go at
    once; a missing lock file is held by nobody (and is not made)."""
    if not path.is_file():
        return False
    try:
        held = acquire(path, timeout=0, what=str(path))
    except OSError:
        return True  # cannot even open it: as remove would, call it in use
    if held is None:
        return True
    held.release()
    return False


def _lock(
    path: Path,
    *,
    shared: bool = False,
    timeout: float | None,
    record_pid: bool = False,
    on_wait: Callable[[int | None], None] | None = None,
) -> FileLock | None:
    """poncho-core's lock on `path` (its folder made if missing); None when `timeout` is 0
    and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return acquire(
        path, shared=shared, timeout=timeout, record_pid=record_pid, on_wait=on_wait, what=str(path)
    )

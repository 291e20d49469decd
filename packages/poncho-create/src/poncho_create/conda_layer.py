"""The reused conda layer: an installed conda prefix kept in the environment cache, so that a
build whose conda part did not change (only pip entries or local sources did) skips the
solve and the install.

A layer lives in ``<cache_dir>/layers/<name>``, `name` being the first 16 hex digits of the
conda part's key (`poncho_create.conda_part`; short, since conda writes the prefix path into
scripts' ``#!`` lines). It IS the build prefix: conda writes the prefix path into files, so
every build of that conda part runs at that one path, and a build that reuses the layer
gives the same bytes as one that installs it afresh. Beside it:

- ``../.locks/layers/<name>.lock`` (with the cache's other locks): poncho-core's lock,
  held by a build for its whole life (a second build with the same conda part waits;
  `poncho cache prune` and eviction skip a held one);
- ``<name>.json``: written atomically once the install succeeded: the layer is complete
  (its modification time is the layer's last use);
- ``<name>.in-use``: written before the pip step, removed once the layer is restored as it
  was; a layer found with it was left by a killed build and is installed afresh.

A build snapshots the layer before its pip step and restores it after packing (success or
failure): every path pip, Python or we added is removed, and if a path of the conda part
is gone or changed (pip replaced a conda package's file) the layer is dropped, to be
installed afresh by the next build. At most ``$PONCHO_CREATE_LAYERS`` layers (default 2)
are kept; 0 builds in a temporary prefix as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from poncho_core.errors import LockTimeout
from poncho_core.fs import atomic_write, rmtree, tree_size
from poncho_core.lock import FileLock, acquire
from poncho_create.errors import BuildLockTimeout, CreateError
from poncho_create.layer_snapshot import Snapshot, restore, snapshot
from poncho_create.progress import counted

__all__ = ["Layer", "LayerEntry", "LayerStore", "layer_limit", "use_layer"]

log = logging.getLogger(__name__)

_NAME = 16


def layer_limit() -> int:
    """How many layers to keep: ``$PONCHO_CREATE_LAYERS`` (default 2; 0: none)."""
    text = os.environ.get("PONCHO_CREATE_LAYERS", "2").strip()
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise CreateError(f"$PONCHO_CREATE_LAYERS: {text!r} is not a number of layers (0, 1, 2...)")
    return value


@dataclass(frozen=True)
class LayerEntry:
    """One layer of a store: its name, folder, size in bytes, last use (epoch seconds) and
    what it holds (its conda dependencies, from its metadata; "" when incomplete)."""

    name: str
    path: Path
    size: int
    last_used: float
    label: str = ""


class LayerStore:
    """The folder of conda layers, ``<cache_dir>/layers`` (made on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._locks = self.root.parent / ".locks" / self.root.name

    @classmethod
    def of_cache(cls, cache_dir: Path) -> LayerStore:
        """The layers of the environment cache `cache_dir`."""
        return cls(Path(cache_dir) / "layers")

    def path(self, name: str) -> Path:
        """The layer's prefix folder."""
        return self.root / name

    def _file(self, name: str, ending: str) -> Path:
        return self.root / f"{name}{ending}"

    def _lock(
        self,
        name: str,
        *,
        wait: bool,
        on_wait: Callable[[int | None], None] | None = None,
        timeout: float | None = None,
    ) -> FileLock | None:
        self._locks.mkdir(parents=True, exist_ok=True)
        path = self._locks / f"{name}.lock"
        return acquire(
            path,
            timeout=timeout if wait else 0,
            what=f"the conda layer {self.path(name)}",
            record_pid=wait,
            on_wait=on_wait,
        )

    def entries(self, *, sizes: bool = True) -> list[LayerEntry]:
        """Every layer (complete or not), least recently used first; `sizes` False leaves
        their sizes 0 (walking a large layer takes a while)."""
        try:
            names = [p.name for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()]
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            meta = self._file(name, ".json")
            try:
                used = meta.stat().st_mtime
                deps = json.loads(meta.read_text(encoding="utf-8")).get("dependencies", [])
                label = ", ".join(str(d) for d in deps)
            except (OSError, ValueError, AttributeError):
                try:
                    used, label = self.path(name).lstat().st_mtime, ""
                except FileNotFoundError:
                    continue  # removed meanwhile
            size = tree_size(self.path(name)) if sizes else 0
            found.append(LayerEntry(name, self.path(name), size, used, label))
        return sorted(found, key=lambda e: (e.last_used, e.name))

    def busy(self, name: str) -> bool:
        """Whether a build holds the layer `name`; writes nothing."""
        lock = self._locks / f"{name}.lock"
        if not lock.is_file():
            return False
        try:
            held = acquire(lock, timeout=0, what=str(lock))
        except OSError:
            return True
        if held is None:
            return True
        held.release()
        return False

    def remove(self, name: str) -> bool:
        """Remove the layer `name` unless a build holds it; True if removed."""
        held = self._lock(name, wait=False)
        if held is None:
            return False
        with held:
            self._drop(name)
        return True

    def evict(self, keep: int, current: str) -> list[str]:
        """Remove the least recently used layers other than `current` until at most `keep`
        remain (`current` counted); a layer a build holds is kept. Returns the removed."""
        others = [e.name for e in self.entries(sizes=False) if e.name != current]
        doomed = others[: max(0, len(others) - (keep - 1))]
        removed = [name for name in doomed if self.remove(name)]
        for name in removed:
            log.info("conda layer %s: removed, least recently used (keeping %d)", name, keep)
        return removed

    def _drop(self, name: str) -> None:
        # The marker goes first: a layer without it is never taken for complete.
        self._file(name, ".json").unlink(missing_ok=True)
        rmtree(self.path(name))
        self._file(name, ".in-use").unlink(missing_ok=True)


@dataclass
class Layer:
    """A layer in use by a build: its `key` (the conda part's), folder `prefix`, whether it
    was `reused` (no install) and, after the build, whether it was `dropped`."""

    key: str
    prefix: Path
    reused: bool
    packages: int
    dropped: bool = False

    def package_names(self) -> list[str]:
        """The installed conda packages, as ``name-version-build``."""
        return sorted(p.stem for p in (self.prefix / "conda-meta").glob("*.json"))

    def message(self) -> str:
        """What the build did with the layer, in words."""
        packages = counted(self.packages, "packages")
        done = f"reused ({packages}, 0 installed)" if self.reused else f"installed {packages}"
        return f"conda layer {self.key[:12]}: {done}" + (", then dropped" if self.dropped else "")

    def to_dict(self) -> dict[str, object]:
        """The ``conda_layer`` record of ``--json``."""
        return {"key": self.key, "reused": self.reused, "dropped": self.dropped}


@contextlib.contextmanager
def use_layer(
    store: LayerStore,
    key: str,
    install: Callable[[Path], None],
    *,
    keep: int,
    force: bool = False,
    dependencies: tuple[str, ...] = (),
    on_wait: Callable[[int | None], None] | None = None,
    timeout: float | None = None,
) -> Iterator[Layer]:
    """Hold the layer of `key` for a build: installed with ``install(prefix)`` unless a
    complete one is there (and not `force`), snapshotted, yielded, then restored (or
    dropped) when the ``with`` block ends; other layers beyond `keep` are evicted.

    Another build holding the layer is waited for, at most `timeout` seconds (None: no
    limit; then BuildLockTimeout, naming its pid); `on_wait` gets that pid first."""
    name = key[:_NAME]
    try:
        held = store._lock(name, wait=True, on_wait=on_wait, timeout=timeout)
    except LockTimeout as exc:
        holder = f" (pid {exc.pid})" if exc.pid is not None else ""
        raise BuildLockTimeout(
            f"another build with the same conda packages{holder} still holds the conda layer "
            f"{store.path(name)} after {timeout:g} s ($PONCHO_CREATE_WAIT)"
        ) from None
    assert held is not None  # a wait: None is never returned
    with held:
        store.evict(keep, name)
        layer = _ready(store, name, key, install, force=force, dependencies=dependencies)
        in_use = store._file(name, ".in-use")
        before = snapshot(layer.prefix)
        atomic_write(in_use, f"{os.getpid()}\n")
        try:
            yield layer
        finally:
            _restore(store, name, layer, before, in_use)


def _ready(
    store: LayerStore,
    name: str,
    key: str,
    install: Callable[[Path], None],
    *,
    force: bool,
    dependencies: tuple[str, ...],
) -> Layer:
    """The complete layer `name`, installed now if it is not."""
    prefix = store.path(name).absolute()
    meta = store._file(name, ".json")
    why = _unusable(store, name, key, force)
    if why is None:
        packages = len(list((prefix / "conda-meta").glob("*.json")))
        os.utime(meta)  # its last use
        layer = Layer(key, prefix, reused=True, packages=packages)
        log.info("%s", layer.message())
        return layer
    if prefix.exists() or meta.exists():
        log.info("conda layer %s: installed afresh (%s)", key[:12], why)
    store._drop(name)
    store.root.mkdir(parents=True, exist_ok=True)
    try:
        install(prefix)
    except BaseException:
        with contextlib.suppress(OSError):  # a failed install is not kept (it may be large)
            store._drop(name)
            store.root.rmdir()  # when empty: a failed build leaves nothing in the cache
        raise
    # rattler marks the prefix as a cache folder; we remove the mark when packing: removed
    # here, so that it is not a change to the layer.
    (prefix / "CACHEDIR.TAG").unlink(missing_ok=True)
    packages = len(list((prefix / "conda-meta").glob("*.json")))
    record = {"key": key, "dependencies": list(dependencies), "installed": time.time()}
    atomic_write(meta, json.dumps(record, indent=2) + "\n")
    layer = Layer(key, prefix, reused=False, packages=packages)
    log.info("%s", layer.message())
    return layer


def _unusable(store: LayerStore, name: str, key: str, force: bool) -> str | None:
    """Why the layer `name` cannot be reused (None: it can)."""
    if store._file(name, ".in-use").exists():
        return "a build using it ended before restoring it"
    meta = store._file(name, ".json")
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8")).get("key")
    except FileNotFoundError:
        return "none yet" if not store.path(name).exists() else "its install did not finish"
    except (OSError, ValueError, AttributeError):
        return "its metadata is unreadable"
    if recorded != key:
        return "another conda part had the same name"
    if not store.path(name).is_dir():
        return "its folder is gone"
    if force:
        return "--force"
    return None


def _restore(store: LayerStore, name: str, layer: Layer, before: Snapshot, in_use: Path) -> None:
    """Put the layer back as `before` saw it, or drop it when pip changed the conda part."""
    try:
        done = restore(before)
    except OSError as exc:
        log.info("conda layer %s: dropped, it could not be restored: %s", layer.key[:12], exc)
        layer.dropped = True
    else:
        if not done.intact:
            changed = [*(f"{p} (changed)" for p in done.changed), *done.missing]
            shown = ", ".join(changed[:5]) + (
                f" and {len(changed) - 5} more" if changed[5:] else ""
            )
            log.info(
                "conda layer %s: dropped, the pip step changed files of the conda part: %s",
                layer.key[:12],
                shown,
            )
            layer.dropped = True
    if layer.dropped:
        with contextlib.suppress(OSError):
            store._drop(name)
        return
    in_use.unlink(missing_ok=True)

"""The caches Poncho fills on a machine, listed and pruned through their own locks.

- ``envs``: environment tarballs made by ``poncho_package_create`` (``$PONCHO_ENVS_DIR``,
  else ``~/.cache/poncho/envs``); a tarball being built is never removed.
- ``layers``: the installed conda parts ``poncho_package_create`` reuses (``layers/`` in
  the environment cache, see `poncho_create.conda_layer`); one a build holds is never
  removed.
- ``data``: the git/http data of specs (``$PONCHO_FETCH_CACHE``, else
  ``~/.cache/poncho/data``); an entry a task holds is never removed.
- ``pkgs``: the conda package download cache (``$PONCHO_PKGS_DIR``, else
  ``~/.cache/poncho/pkgs``); nothing is removed while a build uses it.
- ``store``: poncho_package_run's node store of a worker (``poncho_run.store``: a
  ``--store-dir``, the store or the folder of the DIRs it serves, else
  ``$PONCHO_RUN_STORE``); only files no environment folder links are removed (a folder's
  files are its own links: removing the store's name never breaks one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_create.cache import EnvCache, PackageCache
from poncho_create.conda_layer import LayerStore
from poncho_create.options import default_cache_dir, default_pkgs_dir
from poncho_fetch.cache import DataCache
from poncho_fetch.cache import default_cache_dir as default_data_dir
from poncho_run.store import STORE_ENV, STORE_PREFIX
from poncho_run.store_entries import remove_entry, store_entries

__all__ = ["KINDS", "CacheItem", "CacheReport", "list_caches", "parse_age", "prune_caches"]

KINDS = ("envs", "layers", "data", "pkgs", "store")
"""The caches, in the order they are shown (``store`` only where it is known: see
`store_location`)."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class CacheItem:
    """One entry of a cache: its name, size in bytes, last use (epoch seconds) and, where
    the name does not say it (a data entry's key), what it holds."""

    name: str
    size: int
    last_used: float
    label: str = ""


@dataclass
class CacheReport:
    """One cache: where it is, what it holds, and what a prune removed or had to keep."""

    kind: str
    root: str
    items: list[CacheItem] = field(default_factory=list)
    removed: list[CacheItem] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)
    prunable: int = 0
    """Bytes a prune could remove whatever the age (the store: files no folder links)."""

    @property
    def size(self) -> int:
        """Bytes held (after a prune: what is left)."""
        return sum(item.size for item in self.items)


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``15m``, ``2w`` (or ``45s``) as seconds; ValueError naming the text
    otherwise, also for a number without its unit (is ``30`` days or seconds?)."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:])
    try:
        amount = float(value[:-1] if unit is not None else value)
    except ValueError:
        raise ValueError(f"{text!r} is not an age (e.g. 30d, 12h, 15m, 2w)") from None
    if unit is None:
        raise ValueError(
            f"{text!r} has no unit: write {value}d (days), {value}h (hours), {value}m "
            f"(minutes) or {value}w (weeks)"
        )
    if amount < 0 or amount != amount or amount == float("inf"):
        raise ValueError(f"{text!r} is not an age (e.g. 30d, 12h, 15m, 2w)")
    return amount * unit


def store_location(store_dir: Path | None = None) -> Path | None:
    """The node store `store_dir` names (the store itself, or the folder of the DIRs, which
    holds ``.poncho-store-<uid>``), else ``$PONCHO_RUN_STORE`` (unless ``off``); None when
    neither says."""
    if store_dir is None:
        value = os.environ.get(STORE_ENV, "").strip()
        if not value or value.lower() == "off":
            return None
        store_dir = Path(value)
    inner = store_dir / f"{STORE_PREFIX}{os.getuid()}"
    return inner if inner.is_dir() else store_dir


def _kinds(kinds: Iterable[str] | None, store: Path | None) -> list[str]:
    if kinds is None:
        return [k for k in KINDS if k != "store" or store is not None]
    chosen = list(kinds)
    if "store" in chosen and store is None:
        raise ValueError(
            "the node store: give --store-dir (the store, or the folder holding the "
            f"environment folders it serves) or set ${STORE_ENV}"
        )
    return chosen


def list_caches(
    kinds: Iterable[str] | None = None,
    *,
    envs_dir: Path | None = None,
    data_dir: Path | None = None,
    pkgs_dir: Path | None = None,
    store_dir: Path | None = None,
) -> list[CacheReport]:
    """What each cache of `kinds` (default: every one known) holds, least recently used
    first."""
    roots = _roots(envs_dir, data_dir, pkgs_dir, store_dir)
    return [_report(kind, roots[kind]) for kind in _kinds(kinds, roots.get("store"))]


def _report(kind: str, root: Path) -> CacheReport:
    report = CacheReport(kind, str(root), _items(kind, root))
    if kind == "store":
        report.prunable = sum(i.size for i in report.items if i.label == _UNLINKED)
    return report


def prune_caches(
    kinds: Iterable[str] | None = None,
    *,
    older_than: float | None = None,
    max_size: int | None = None,
    dry_run: bool = False,
    envs_dir: Path | None = None,
    data_dir: Path | None = None,
    pkgs_dir: Path | None = None,
    store_dir: Path | None = None,
    now: float | None = None,
) -> list[CacheReport]:
    """Remove, in each cache of `kinds`, the entries last used more than `older_than`
    seconds ago, then the least recently used ones until it holds at most `max_size` bytes.
    Entries in use (a build, a task) are kept and listed in `kept_in_use`. With `dry_run`,
    nothing is removed: `removed` lists what would be, `kept_in_use` what would be kept.
    Also removes the build folders that killed creates left in the temporary folder (see
    `poncho_create.build_folders`). In the node store only files no environment folder
    links can go; the others count in its size but stay."""
    roots = _roots(envs_dir, data_dir, pkgs_dir, store_dir)
    chosen = _kinds(kinds, roots.get("store"))
    if not dry_run:
        from poncho_create.build_folders import default_parents, sweep

        sweep(default_parents())
    clock = time.time() if now is None else now
    reports = []
    for kind in chosen:
        report = _report(kind, roots[kind])
        candidates = report.items
        if kind == "store":
            candidates = [i for i in report.items if i.label == _UNLINKED]
        doomed = _choose(candidates, older_than, max_size, clock, report.size)
        if dry_run:  # what the real prune would keep is said to be kept here too
            removed = _not_busy(kind, roots[kind], doomed, report)
        else:
            removed = _remove(kind, roots[kind], doomed, report)
        report.removed = removed
        gone = {item.name for item in removed}
        report.items = [item for item in report.items if item.name not in gone]
        report.prunable -= sum(item.size for item in removed) if kind == "store" else 0
        reports.append(report)
    return reports


def _roots(
    envs: Path | None, data: Path | None, pkgs: Path | None, store_dir: Path | None = None
) -> dict[str, Path]:
    envs = envs or default_cache_dir()
    roots = {
        "envs": envs,
        "layers": LayerStore.of_cache(envs).root,
        "data": data or default_data_dir(),
        "pkgs": pkgs or default_pkgs_dir(),
    }
    store = store_location(store_dir)
    if store is not None:
        roots["store"] = store
    return roots


#: The label of a store entry no environment folder links.
_UNLINKED = "linked by no folder"


def _items(kind: str, root: Path) -> list[CacheItem]:
    if kind == "store":
        return [
            CacheItem(
                e.name,
                e.size,
                e.last_used,
                _UNLINKED if e.links == 1 else f"linked by {e.links - 1} folder(s)",
            )
            for e in store_entries(str(root))
        ]
    if kind == "data":
        return [
            CacheItem(e.key, e.size, e.last_used, _data_label(e.meta))
            for e in DataCache(root).entries()
        ]
    if kind == "layers":
        return [CacheItem(e.name, e.size, e.last_used, e.label) for e in LayerStore(root).entries()]
    cache = EnvCache(root) if kind == "envs" else PackageCache(root)
    return [CacheItem(e.name, e.size, e.last_used) for e in cache.entries()]


def _data_label(meta: Mapping[str, Any]) -> str:
    """``git REMOTE @ REF`` or ``http URL``: what a data entry was filled from."""
    source = meta.get("source")
    if not isinstance(source, Mapping):
        return ""
    if source.get("kind") == "git":
        return f"git {source.get('remote', '?')} @ {source.get('ref', '?')}"
    if source.get("kind") == "http":
        return f"http {source.get('url', '?')}"
    return ""


def _choose(
    items: list[CacheItem],
    older_than: float | None,
    max_size: int | None,
    now: float,
    total: int | None = None,
) -> list[CacheItem]:
    """What to remove of `items` (the removable entries of a cache holding `total` bytes,
    default theirs)."""
    doomed = [i for i in items if older_than is not None and now - i.last_used > older_than]
    if max_size is not None:
        whole = sum(i.size for i in items) if total is None else total
        left = whole - sum(i.size for i in doomed)
        for item in items:  # least recently used first
            if left <= max_size:
                break
            if item not in doomed:
                doomed.append(item)
                left -= item.size
    return doomed


def _not_busy(
    kind: str, root: Path, doomed: list[CacheItem], report: CacheReport
) -> list[CacheItem]:
    if kind == "store":
        busy = set()  # unlinked when listed; one linked meanwhile is kept by `_remove`
    elif kind == "pkgs":
        busy = {item.name for item in doomed} if PackageCache(root).busy() else set()
    elif kind == "envs":
        cache = EnvCache(root)
        busy = {item.name for item in doomed if cache.busy(item.name)}
    elif kind == "layers":
        layers = LayerStore(root)
        busy = {item.name for item in doomed if layers.busy(item.name)}
    else:
        data = DataCache(root)
        busy = {item.name for item in doomed if data.busy(item.name)}
    report.kept_in_use = [item.name for item in doomed if item.name in busy]
    return [item for item in doomed if item.name not in busy]


def _remove(kind: str, root: Path, doomed: list[CacheItem], report: CacheReport) -> list[CacheItem]:
    if not doomed:
        return []
    if kind == "pkgs":
        removed = PackageCache(root).remove([item.name for item in doomed])
        if removed is None:
            report.kept_in_use = [item.name for item in doomed]
            return []
        return doomed
    if kind == "store":
        done = [item for item in doomed if remove_entry(str(root), item.name)]
    elif kind == "envs":
        cache = EnvCache(root)
        done = [item for item in doomed if cache.remove(item.name)]
    elif kind == "layers":
        layers = LayerStore(root)
        done = [item for item in doomed if layers.remove(item.name)]
    else:
        data = DataCache(root)
        done = [item for item in doomed if data.remove(item.name)]
    report.kept_in_use = [item.name for item in doomed if item not in done]
    return done

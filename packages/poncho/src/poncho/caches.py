"""The three caches Poncho fills on a machine, listed and pruned through their own locks.

- ``envs``: environment tarballs made by ``poncho_package_create`` (``$PONCHO_ENVS_DIR``,
  else ``~/.cache/poncho/envs``); a tarball being built is never removed.
- ``data``: the git/http data of specs (``$PONCHO_FETCH_CACHE``, else
  ``~/.cache/poncho/data``); an entry a task holds is never removed.
- ``pkgs``: the conda package download cache (``$PONCHO_PKGS_DIR``, else
  ``~/.cache/poncho/pkgs``); nothing is removed while a build uses it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from poncho_create.cache import EnvCache, PackageCache
from poncho_create.options import default_cache_dir, default_pkgs_dir
from poncho_fetch.cache import DataCache
from poncho_fetch.cache import default_cache_dir as default_data_dir

__all__ = ["KINDS", "CacheItem", "CacheReport", "list_caches", "parse_age", "prune_caches"]

KINDS = ("envs", "data", "pkgs")
"""The caches, in the order they are shown."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class CacheItem:
    """One entry of a cache: its name, size in bytes and last use (epoch seconds)."""

    name: str
    size: int
    last_used: float


@dataclass
class CacheReport:
    """One cache: where it is, what it holds, and what a prune removed or had to keep."""

    kind: str
    root: str
    items: list[CacheItem] = field(default_factory=list)
    removed: list[CacheItem] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes held (after a prune: what is left)."""
        return sum(item.size for item in self.items)


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` (or plain seconds) as seconds; ValueError
    naming the text otherwise."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:])
    number = value[:-1] if unit is not None else value
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not an age (e.g. 30d, 12h, 2w)") from None
    if amount < 0 or amount != amount:
        raise ValueError(f"{text!r} is not an age (e.g. 30d, 12h, 2w)")
    return amount * (unit or 1)


def list_caches(
    kinds: Iterable[str] = KINDS,
    *,
    envs_dir: Path | None = None,
    data_dir: Path | None = None,
    pkgs_dir: Path | None = None,
) -> list[CacheReport]:
    """What each cache of `kinds` holds, least recently used first."""
    roots = _roots(envs_dir, data_dir, pkgs_dir)
    return [CacheReport(kind, str(roots[kind]), _items(kind, roots[kind])) for kind in kinds]


def prune_caches(
    kinds: Iterable[str] = KINDS,
    *,
    older_than: float | None = None,
    max_size: int | None = None,
    dry_run: bool = False,
    envs_dir: Path | None = None,
    data_dir: Path | None = None,
    pkgs_dir: Path | None = None,
    now: float | None = None,
) -> list[CacheReport]:
    """Remove, in each cache of `kinds`, the entries last used more than `older_than`
    seconds ago, then the least recently used ones until it holds at most `max_size` bytes.
    Entries in use (a build, a task) are kept and listed in `kept_in_use`. With `dry_run`,
    nothing is removed: `removed` lists what would be. Also removes the build folders
    that killed creates left in the temporary folder (see `poncho_create.build_folders`)."""
    if not dry_run:
        from poncho_create.build_folders import default_parents, sweep

        sweep(default_parents())
    roots = _roots(envs_dir, data_dir, pkgs_dir)
    clock = time.time() if now is None else now
    reports = []
    for kind in kinds:
        report = CacheReport(kind, str(roots[kind]), _items(kind, roots[kind]))
        doomed = _choose(report.items, older_than, max_size, clock)
        removed = doomed if dry_run else _remove(kind, roots[kind], doomed, report)
        report.removed = removed
        gone = {item.name for item in removed}
        report.items = [item for item in report.items if item.name not in gone]
        reports.append(report)
    return reports


def _roots(envs: Path | None, data: Path | None, pkgs: Path | None) -> dict[str, Path]:
    return {
        "envs": envs or default_cache_dir(),
        "data": data or default_data_dir(),
        "pkgs": pkgs or default_pkgs_dir(),
    }


def _items(kind: str, root: Path) -> list[CacheItem]:
    if kind == "data":
        return [CacheItem(e.key, e.size, e.last_used) for e in DataCache(root).entries()]
    cache = EnvCache(root) if kind == "envs" else PackageCache(root)
    return [CacheItem(e.name, e.size, e.last_used) for e in cache.entries()]


def _choose(
    items: list[CacheItem], older_than: float | None, max_size: int | None, now: float
) -> list[CacheItem]:
    doomed = [i for i in items if older_than is not None and now - i.last_used > older_than]
    if max_size is not None:
        left = sum(i.size for i in items) - sum(i.size for i in doomed)
        for item in items:  # least recently used first
            if left <= max_size:
                break
            if item not in doomed:
                doomed.append(item)
                left -= item.size
    return doomed


def _remove(kind: str, root: Path, doomed: list[CacheItem], report: CacheReport) -> list[CacheItem]:
    if not doomed:
        return []
    if kind == "pkgs":
        removed = PackageCache(root).remove([item.name for item in doomed])
        if removed is None:
            report.kept_in_use = [item.name for item in doomed]
            return []
        return doomed
    if kind == "envs":
        cache = EnvCache(root)
        done = [item for item in doomed if cache.remove(item.name)]
    else:
        data = DataCache(root)
        done = [item for item in doomed if data.remove(item.name)]
    report.kept_in_use = [item.name for item in doomed if item not in done]
    return done

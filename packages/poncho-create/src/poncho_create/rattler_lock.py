"""Installing a lock again: its packages' repodata records, from the package cache when it
holds them with the lock's sha256, else from their channels (no solving)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_create._async import run_coroutine
from poncho_create.errors import LockError
from poncho_create.lock import CondaLockEntry, Lock
from poncho_create.rattler_errors import channel_error

if TYPE_CHECKING:
    from rattler import RepoDataRecord

__all__ = ["channel_of", "records_from_lock", "repodata_gateway"]

log = logging.getLogger(__name__)


def records_from_lock(lock: Lock, pkgs_dir: Path) -> list[RepoDataRecord]:
    """The repodata records of every package in `lock`, found again by url (no solving).

    A package already in the package cache `pkgs_dir` with the lock's sha256 is taken from
    there (its ``info/index.json``), so a lock whose packages are all cached rebuilds with no
    channel at all, as on an air-gapped node. The others are looked up in their channels'
    repodata; one missing there, or with another sha256, is a LockError.
    """
    if not lock.conda:
        return []
    found = _records_from_cache(lock, pkgs_dir)
    missing = [entry for entry in lock.conda if entry.url not in found]
    if missing:
        found.update(_records_from_channels(missing, lock.platform, pkgs_dir))
    log.info(
        "lock: %d of %d packages from the package cache",
        len(lock.conda) - len(missing),
        len(lock.conda),
    )
    return [found[entry.url] for entry in lock.conda]


def _records_from_cache(lock: Lock, pkgs_dir: Path) -> dict[str, RepoDataRecord]:
    """Records, by url, of the locked packages that `pkgs_dir` holds with the lock's sha256.

    The record is the package's own ``index.json`` with the lock's url, channel and sha256;
    rattler's cache index confirms that the cached package has that sha256. An entry with no
    sha256, or whose url does not name ``name-version-build``, is not taken from the cache.
    """
    import rattler

    candidates: dict[str, RepoDataRecord] = {}
    for entry in lock.conda:
        stem = f"{entry.name}-{entry.version}-{entry.build}"
        file_name = entry.url.rsplit("/", 1)[-1]
        index_json = pkgs_dir / stem / "info" / "index.json"
        if not entry.sha256 or _archive_stem(file_name) != stem or not index_json.is_file():
            continue
        try:
            package = rattler.PackageRecord.from_index_json(index_json, sha256=entry.sha256)
            candidates[entry.url] = rattler.RepoDataRecord(
                package, file_name, entry.url, entry.channel or channel_of(entry.url)
            )
        except Exception as exc:  # a damaged cache entry: the channel has the package too
            log.debug("package cache entry %s not used: %s", stem, exc)
    if not candidates:
        return {}
    try:
        index = run_coroutine(rattler.PackageCache.new_layered([pkgs_dir]).index())
    except Exception as exc:  # pragma: no cover - an unreadable cache: use the channels
        log.debug("package cache %s not readable: %s", pkgs_dir, exc)
        return {}
    return {url: record for url, record in candidates.items() if index.contains_record(record)}


def _archive_stem(file_name: str) -> str:
    for suffix in (".conda", ".tar.bz2"):
        if file_name.endswith(suffix):
            return file_name[: -len(suffix)]
    return ""


def _records_from_channels(
    entries: Sequence[CondaLockEntry], platform: str, pkgs_dir: Path
) -> dict[str, RepoDataRecord]:
    """Records, by url, of locked `entries`, read from their channels' repodata."""
    import rattler
    from rattler.exceptions import FetchRepoDataError, GatewayError

    gateway = repodata_gateway(pkgs_dir)
    channels = list(dict.fromkeys(entry.channel or channel_of(entry.url) for entry in entries))
    specs = [f"{entry.name} =={entry.version} {entry.build}" for entry in entries]
    try:
        result = run_coroutine(
            gateway.query(
                [rattler.Channel(channel) for channel in channels],
                [platform, "noarch"],
                specs,
                recursive=False,
                channel_relations="disabled",
            )
        )
    except (GatewayError, FetchRepoDataError) as exc:
        raise channel_error(str(exc), channels) from exc
    by_url: dict[str, RepoDataRecord] = {}
    for per_source in result:
        for record in per_source:
            by_url.setdefault(record.url, record)
    records = {}
    for entry in entries:
        record = by_url.get(entry.url)
        if record is None:
            raise LockError(
                f"locked package {entry.name} {entry.version} {entry.build} is no longer "
                f"available at {entry.url}"
            )
        found = record.sha256.hex() if record.sha256 else None
        if entry.sha256 and found and found != entry.sha256:
            raise LockError(
                f"locked package {entry.name} {entry.version} {entry.build} changed: "
                f"sha256 {found} in the channel, {entry.sha256} in the lock"
            )
        records[entry.url] = record
    return records


def repodata_gateway(pkgs_dir: Path) -> Any:
    """py-rattler's repodata gateway, caching repodata under the package cache."""
    import rattler

    return rattler.Gateway(cache_dir=pkgs_dir / ".repodata")


def channel_of(url: str) -> str:
    """The channel URL of a package URL (``.../channel/subdir/file`` -> ``.../channel``)."""
    return url.rsplit("/", 2)[0]

"""The embedded conda engine: py-rattler solves, downloads and installs into a prefix.

No conda installation is needed. Repodata is fetched from the channels (CEP-42 channel
relations are not followed: we solve against exactly the channels given), packages are
downloaded into the shared package cache and linked into the prefix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from poncho_create.errors import (
    ChannelError,
    CreateError,
    LockError,
    PackageNotFound,
    UnsatisfiableSpec,
)
from poncho_create.lock import CondaLockEntry, Lock
from poncho_create.progress import Reporter

if TYPE_CHECKING:
    from rattler import GenericVirtualPackage, RepoDataRecord, VirtualPackage

__all__ = ["build_prefix", "install", "records_from_lock", "solve", "virtual_packages"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Versions assumed for a platform other than this machine's; CONDA_OVERRIDE_* change them.
_FOREIGN_DEFAULTS = {"linux": ("__glibc", "2.17"), "osx": ("__osx", "11.0")}


def build_prefix(
    dependencies: Sequence[str],
    channels: Sequence[str],
    platform: str,
    prefix: Path,
    pkgs_dir: Path,
    report: Reporter,
    *,
    native: bool,
    lock: Lock | None = None,
    constraints: Sequence[str] = (),
) -> None:
    """Solve `dependencies` (or take the packages of `lock`) and install them into `prefix`.

    `constraints` (match specs) limit what may be chosen without asking for the package,
    as conda's ``conda-meta/pinned`` does.
    """
    if lock is not None:
        records = records_from_lock(lock, pkgs_dir)
    else:
        records = solve(
            dependencies, channels, platform, pkgs_dir, report, native=native,
            constraints=constraints,
        )  # fmt: skip
    install(records, prefix, pkgs_dir, platform, report)


def solve(
    dependencies: Sequence[str],
    channels: Sequence[str],
    platform: str,
    pkgs_dir: Path,
    report: Reporter,
    *,
    native: bool = True,
    constraints: Sequence[str] = (),
) -> list[RepoDataRecord]:
    """Fetch repodata and solve; errors name the channel or the packages at fault."""
    import rattler
    from rattler.exceptions import (
        FetchRepoDataError,
        GatewayError,
        InvalidChannelError,
        InvalidMatchSpecError,
        SolverError,
    )
    from rattler.platform import Subdir

    report.start("solve", None, "specs", f"{len(dependencies)} specs")
    gateway = _gateway(pkgs_dir)
    try:
        sources = [rattler.Channel(channel) for channel in channels]
    except InvalidChannelError as exc:
        raise ChannelError(f"invalid channel: {exc}") from exc
    try:
        records = _run(
            rattler.solve(
                sources=sources,
                specs=list(dependencies),
                gateway=gateway,
                platforms=[Subdir(platform), Subdir("noarch")],
                virtual_packages=virtual_packages(platform, native=native),
                channel_relations="disabled",
                constraints=list(constraints) or None,
            )
        )
    except (GatewayError, FetchRepoDataError) as exc:
        raise _channel_error(str(exc), channels) from exc
    except InvalidMatchSpecError as exc:
        raise CreateError(f"invalid conda dependency: {exc}") from exc
    except SolverError as exc:
        raise _solver_error(str(exc), sources, platform, gateway) from exc
    report.finish("solve", len(records), len(records), "packages", f"{len(records)} packages")
    return records


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
                package, file_name, entry.url, entry.channel or _channel_of(entry.url)
            )
        except Exception as exc:  # a damaged cache entry: the channel has the package too
            log.debug("package cache entry %s not used: %s", stem, exc)
    if not candidates:
        return {}
    try:
        index = _run(rattler.PackageCache.new_layered([pkgs_dir]).index())
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

    gateway = _gateway(pkgs_dir)
    channels = list(dict.fromkeys(entry.channel or _channel_of(entry.url) for entry in entries))
    specs = [f"{entry.name} =={entry.version} {entry.build}" for entry in entries]
    try:
        result = _run(
            gateway.query(
                [rattler.Channel(channel) for channel in channels],
                [platform, "noarch"],
                specs,
                recursive=False,
                channel_relations="disabled",
            )
        )
    except (GatewayError, FetchRepoDataError) as exc:
        raise _channel_error(str(exc), channels) from exc
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


def install(
    records: list[RepoDataRecord],
    prefix: Path,
    pkgs_dir: Path,
    platform: str,
    report: Reporter,
) -> None:
    """Download `records` into `pkgs_dir` (shared cache) and link them into `prefix`."""
    import rattler
    from rattler import exceptions as rx
    from rattler.platform import Subdir

    failures = (
        rx.CacheDirError,
        rx.ExtractError,
        rx.FetchRepoDataError,
        rx.InstallerError,
        rx.IoError,
        rx.LinkError,
        rx.TransactionError,
    )
    progress = _InstallProgress(records, report)
    try:
        _run(
            rattler.install(
                records,
                prefix,
                cache_dir=pkgs_dir,
                platform=Subdir(platform),
                show_progress=False,
                reporter=progress,
            )
        )
    except failures as exc:
        message = str(exc).strip().replace("\n", "; ")
        raise CreateError(f"installing the conda packages failed: {message}") from exc
    progress.done()


def virtual_packages(
    platform: str, *, native: bool
) -> list[VirtualPackage | GenericVirtualPackage]:
    """Virtual packages to solve with: detected on this machine when `native`, otherwise
    defaults for `platform` (``__glibc`` 2.17, ``__osx`` 11.0), which the usual
    ``CONDA_OVERRIDE_GLIBC`` / ``CONDA_OVERRIDE_OSX`` / ``CONDA_OVERRIDE_CUDA`` change."""
    import rattler

    if native:
        return list(rattler.VirtualPackage.detect(rattler.VirtualPackageOverrides.from_env()))
    family = platform.split("-")[0]
    packages: list[tuple[str, str]] = []
    if family in ("linux", "osx"):
        packages.append(("__unix", "0"))
    if family == "linux":
        packages.append(("__linux", os.environ.get("CONDA_OVERRIDE_LINUX", "5.10")))
    if family == "win":
        packages.append(("__win", "0"))
    if family in _FOREIGN_DEFAULTS:
        name, version = _FOREIGN_DEFAULTS[family]
        override = f"CONDA_OVERRIDE_{name.strip('_').upper()}"
        packages.append((name, os.environ.get(override, version)))
    cuda = os.environ.get("CONDA_OVERRIDE_CUDA")
    if cuda:
        packages.append(("__cuda", cuda))
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0")
        )
        for name, version in packages
    ]


class _InstallProgress:
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
        report.start("download", self._total_bytes, "bytes", f"{count} packages")
        report.start("install", count, "packages")

    # The rattler callbacks (structural InstallerReporter protocol).
    def on_populate_cache_start(self, operation: int, package_name: str) -> int:
        with self._lock:
            self._ops[operation] = package_name
        return operation

    def on_download_start(self, cache_entry: int) -> int:
        return cache_entry

    def on_download_progress(self, download_idx: int, progress: int, total: int | None) -> None:
        name = self._ops.get(download_idx, str(download_idx))
        with self._lock:
            self._bytes[name] = progress
            done = sum(self._bytes.values())
        self._report("download", done, self._total_bytes, "bytes")

    def on_populate_cache_complete(self, cache_entry: int) -> None:
        name = self._ops.get(cache_entry, str(cache_entry))
        with self._lock:
            self._bytes[name] = self._sizes.get(name, self._bytes.get(name, 0))
            done = sum(self._bytes.values())
        self._report("download", done, self._total_bytes, "bytes")

    def on_link_complete(self, index: int) -> None:
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
        count = len(self._records)
        self._report.finish(
            "download", self._total_bytes, self._total_bytes, "bytes", f"{count} packages"
        )
        self._report.finish("install", count, count, "packages")


def _gateway(pkgs_dir: Path) -> Any:
    import rattler

    return rattler.Gateway(cache_dir=pkgs_dir / ".repodata")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="poncho-create-rattler")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _channel_of(url: str) -> str:
    """The channel URL of a package URL (``.../channel/subdir/file`` -> ``.../channel``)."""
    return url.rsplit("/", 2)[0]


def _channel_error(message: str, channels: Sequence[str]) -> ChannelError:
    lines = message.strip().splitlines()
    detail = lines[0] if lines else "unknown error"
    if len(lines) > 1:
        detail += f" ({lines[-1].removeprefix('Caused by: ')})"
    culprit = next(
        (
            c
            for c in channels
            if _channel_url(c).rstrip("/") and _channel_url(c).rstrip("/") in message
        ),
        None,
    )
    if culprit is None:
        return ChannelError(f"cannot read the channels {', '.join(channels)}: {detail}{_REMEDY}")
    return ChannelError(f"channel {culprit} is unreachable or missing: {detail}{_REMEDY}")


_REMEDY = (
    "; to build from a mirror or a local channel, give it with --channel URL "
    "--override-channels, PONCHO_CHANNELS, or [poncho] mirrors in the config file "
    "(~/.config/poncho/config.toml)"
)


def _channel_url(channel: str) -> str:
    import rattler

    try:
        return str(rattler.Channel(channel).base_url)
    except Exception:
        return channel


_NO_CANDIDATES = re.compile(r"No candidates were found for ([A-Za-z0-9_.\-]+)(?: ([^.\n]+))?")


def _solver_error(message: str, sources: Sequence[Any], platform: str, gateway: Any) -> CreateError:
    """Turn rattler's SolverError text into our error: a missing package or a conflict."""
    text = message.strip().removeprefix("Cannot solve the request because of: ")
    match = _NO_CANDIDATES.search(text)
    if match and text.startswith("No candidates"):
        name, constraint = match.group(1), (match.group(2) or "").strip()
        channels = ", ".join(str(getattr(s, "base_url", s)).rstrip("/") for s in sources)
        available = _available_versions(name, sources, platform, gateway)
        if not available:
            return PackageNotFound(
                f"conda package {name!r} does not exist in the channels {channels} "
                f"(platform {platform})"
            )
        shown = ", ".join(available[-10:])
        return UnsatisfiableSpec(
            f"no version of conda package {name!r} matches {constraint!r} (available: {shown})"
        )
    return UnsatisfiableSpec(f"the conda dependencies cannot be satisfied together:\n{text}")


def _available_versions(
    name: str, sources: Sequence[Any], platform: str, gateway: Any
) -> list[str]:
    try:
        result = _run(
            gateway.query(
                sources, [platform, "noarch"], [name], recursive=False, channel_relations="disabled"
            )
        )
    except Exception:  # pragma: no cover - only used to word a message better
        return []
    versions = {str(record.version) for per_source in result for record in per_source}
    import rattler

    return sorted(versions, key=rattler.Version)

"""The embedded conda engine: py-rattler solves, downloads and installs into a prefix.

No conda installation is needed. Repodata is fetched from the channels (CEP-42 channel
relations are not followed: we solve against exactly the channels given), packages are
downloaded into the shared package cache and linked into the prefix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from poncho_create._async import run_coroutine
from poncho_create.cache import PackageCache
from poncho_create.errors import (
    ChannelError,
    CreateError,
)
from poncho_create.lock import Lock
from poncho_create.progress import Reporter
from poncho_create.rattler_errors import channel_error, channel_url, solver_error
from poncho_create.rattler_lock import records_from_lock, repodata_gateway
from poncho_create.rattler_progress import InstallProgress
from poncho_spec import matchspec

if TYPE_CHECKING:
    from rattler import GenericVirtualPackage, RepoDataRecord, VirtualPackage

__all__ = [
    "build_prefix",
    "foreign_system_version",
    "install",
    "records_from_lock",
    "solve",
    "solver_input",
    "virtual_packages",
]

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
    channel_source: Callable[[str], str] | None = None,
) -> None:
    """Solve `dependencies` (or take the packages of `lock`) and install them into `prefix`.

    `constraints` (match specs) limit what may be chosen without asking for the package,
    as conda's ``conda-meta/pinned`` does. `channel_source` maps the channel named in a
    ``channel::name`` spec to what the engine reads (as the `channels` were mapped).
    """
    if lock is not None:
        records = records_from_lock(lock, pkgs_dir)
    else:
        records = solve(
            dependencies,
            channels,
            platform,
            pkgs_dir,
            report,
            native=native,
            constraints=constraints,
            channel_source=channel_source,
        )
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
    channel_source: Callable[[str], str] | None = None,
) -> list[RepoDataRecord]:
    """Fetch repodata and solve; errors name the channel or the packages at fault.
    `dependencies` and `constraints` are match specs in any form a spec may hold."""
    import rattler
    from rattler.exceptions import (
        FetchRepoDataError,
        GatewayError,
        InvalidChannelError,
        InvalidMatchSpecError,
        SolverError,
    )
    from rattler.platform import Subdir

    count = len(dependencies)
    report.start("solve", None, "specs", f"{count} spec{'' if count == 1 else 's'}")
    gateway = repodata_gateway(pkgs_dir)
    specs, pins, channels = solver_input(dependencies, constraints, channels, channel_source)
    try:
        sources = [rattler.Channel(channel) for channel in channels]
    except InvalidChannelError as exc:
        raise ChannelError(f"invalid channel: {exc}") from exc
    try:
        records = run_coroutine(
            rattler.solve(
                sources=sources,
                specs=specs,
                gateway=gateway,
                platforms=[Subdir(platform), Subdir("noarch")],
                virtual_packages=virtual_packages(platform, native=native),
                channel_relations="disabled",
                constraints=pins or None,
            )
        )
    except (GatewayError, FetchRepoDataError) as exc:
        raise channel_error(str(exc), channels) from exc
    except InvalidMatchSpecError as exc:
        raise CreateError(f"invalid conda dependency: {exc}") from exc
    except SolverError as exc:
        specs = [*dependencies, *constraints]
        raise solver_error(str(exc), sources, platform, gateway, specs) from exc
    report.finish("solve", len(records), len(records), "packages", f"{len(records)} packages")
    return records


def solver_input(
    dependencies: Sequence[str],
    constraints: Sequence[str],
    channels: Sequence[str],
    channel_source: Callable[[str], str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """The specs, constraints and channels the solver gets: each spec in its solver form
    (its channel mapped by `channel_source`), and after `channels` the channels that specs
    name and `channels` lack (conda searches the channel of ``channel::name`` too)."""
    specs = [matchspec.solver_form(d, channel_source) for d in dependencies]
    pins = [matchspec.solver_form(c, channel_source) for c in constraints]
    sources = list(channels)
    known = {channel_url(c).rstrip("/") for c in sources}
    for spec in (*dependencies, *constraints):
        channel = matchspec.channel_of(spec)
        if channel is None:
            continue
        source = channel_source(channel[0]) if channel_source else channel[0]
        if channel_url(source).rstrip("/") not in known:
            known.add(channel_url(source).rstrip("/"))
            sources.append(source)
    return specs, pins, sources


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
    progress = InstallProgress(records, report)
    try:
        run_coroutine(
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
    # The package cache's "last use", which `poncho cache prune --older-than` reads, is this.
    PackageCache(pkgs_dir).mark_used(_dist_name(r.file_name) for r in records)
    progress.done()


def _dist_name(file_name: str) -> str:
    """``python-3.11.7-h1_0`` for ``python-3.11.7-h1_0.conda`` (or ``.tar.bz2``)."""
    for ending in (".conda", ".tar.bz2"):
        if file_name.endswith(ending):
            return file_name[: -len(ending)]
    return file_name


def foreign_system_version(platform: str) -> tuple[str, str] | None:
    """The C library or OS version assumed for `platform` when it is not this machine's:
    ``("__glibc", "2.17")`` for Linux, ``("__osx", "11.0")`` for macOS (None for others),
    or the value of ``CONDA_OVERRIDE_GLIBC`` / ``CONDA_OVERRIDE_OSX``. The conda solve and
    the choice of pip wheels (``manylinux_2_17``, ``macosx_11_0``) use the same."""
    family = platform.split("-")[0]
    if family not in _FOREIGN_DEFAULTS:
        return None
    name, version = _FOREIGN_DEFAULTS[family]
    override = f"CONDA_OVERRIDE_{name.strip('_').upper()}"
    return name, os.environ.get(override, version)


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
    system = foreign_system_version(platform)
    if system is not None:
        packages.append(system)
    cuda = os.environ.get("CONDA_OVERRIDE_CUDA")
    if cuda:
        packages.append(("__cuda", cuda))
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0")
        )
        for name, version in packages
    ]

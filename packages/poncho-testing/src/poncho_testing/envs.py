"""Real conda environments from a local channel: installed by py-rattler, packed by conda-pack."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._cache import cache_root, cached_dir
from .channel import LocalChannel
from .errors import BuildError

if TYPE_CHECKING:
    from rattler import RepoDataRecord

#: conda-pack's formats and the file suffix each one gets.
FORMAT_SUFFIXES = {
    "tar.gz": ".tar.gz",
    "tgz": ".tgz",
    "tar.bz2": ".tar.bz2",
    "tar.xz": ".tar.xz",
    "tar.zst": ".tar.zst",
    "tar": ".tar",
    "zip": ".zip",
}


def solve(channel: LocalChannel, specs: Sequence[str]) -> list[RepoDataRecord]:
    """Solve ``specs`` against ``channel`` with py-rattler, as against any conda channel."""
    from rattler import Channel, Gateway, Subdir, VirtualPackage
    from rattler import solve as rattler_solve

    from ._aio import run_sync

    with tempfile.TemporaryDirectory(prefix="poncho-gateway-") as gw_cache:
        return run_sync(
            rattler_solve(
                sources=[Channel(channel.url)],
                specs=list(specs),
                gateway=Gateway(cache_dir=Path(gw_cache)),
                platforms=[Subdir(channel.subdir), Subdir("noarch")],
                virtual_packages=VirtualPackage.detect(),
            )
        )


def default_pkgs_dir(channel: LocalChannel) -> Path:
    """The shared rattler package cache for ``channel``'s exact packages.

    Keyed by the channel's repodata (which holds every package's sha256), so a rebuilt
    channel never meets stale extracted packages.
    """
    return cache_root().resolve() / "pkgs" / _repodata_digest(channel)[:16]


def install_prefix(
    channel: LocalChannel,
    specs: Sequence[str],
    prefix: str | Path,
    *,
    pkgs_dir: str | Path | None = None,
) -> list[RepoDataRecord]:
    """Solve ``specs`` and install them into ``prefix``; return the installed records.

    Packages are extracted into ``pkgs_dir``, by default a cache shared by the whole
    session (and later ones: a warm install takes ~0.1 s). As with conda, the prefix's files
    are hard links into it: replace files, never edit them in place. Keep ``pkgs_dir`` until
    the prefix has been packed: conda-pack reads package contents from there.
    """
    from rattler import install

    from ._aio import run_sync

    records = solve(channel, specs)
    cache = Path(pkgs_dir) if pkgs_dir is not None else default_pkgs_dir(channel)
    run_sync(install(records, str(prefix), cache_dir=cache, show_progress=False))
    return records


def build_env_tarball(
    channel: LocalChannel,
    specs: Sequence[str],
    dest: str | Path,
    *,
    fmt: str = "tar.gz",
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """A conda-pack archive of an environment holding ``specs`` from ``channel``.

    ``dest`` is the archive's path, or an existing folder to write ``env-<key><suffix>`` into.
    ``extra_files`` (``{"relative/path": content}``) are written into the prefix before
    packing (files under ``bin/`` are made executable); conda-pack packs them as unmanaged
    files. The archive is cached by its arguments, so a second call only copies it.
    """
    if fmt not in FORMAT_SUFFIXES:
        raise BuildError(f"unknown archive format {fmt!r}: one of {', '.join(FORMAT_SUFFIXES)}")
    suffix = FORMAT_SUFFIXES[fmt]
    extras = {k: v.encode() if isinstance(v, str) else v for k, v in (extra_files or {}).items()}
    key = _tarball_key(channel, specs, fmt, extras)
    name = f"env-{key}{suffix}"

    def build(tmp: Path) -> None:
        _pack(channel, specs, fmt, extras, tmp / name)

    cached = cached_dir(cache_root().resolve() / "envs", key, build) / name
    dest = Path(dest)
    target = dest / name if dest.is_dir() else dest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(cached, tmp_target)
        tmp_target.replace(target)
    finally:
        tmp_target.unlink(missing_ok=True)
    return target


def _tarball_key(
    channel: LocalChannel, specs: Sequence[str], fmt: str, extras: Mapping[str, bytes]
) -> str:
    """A digest of everything the archive depends on (the channel by its repodata)."""
    h = hashlib.sha256(_repodata_digest(channel).encode())
    h.update(json.dumps([list(specs), fmt]).encode())
    for path, data in sorted(extras.items()):
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


def _repodata_digest(channel: LocalChannel) -> str:
    h = hashlib.sha256()
    for repodata in sorted(channel.path.glob("*/repodata.json")):
        h.update(repodata.read_bytes())
    return h.hexdigest()


def _pack(
    channel: LocalChannel, specs: Sequence[str], fmt: str, extras: Mapping[str, bytes], out: Path
) -> None:
    import conda_pack

    with tempfile.TemporaryDirectory(prefix="poncho-env-") as work:
        prefix = Path(work) / "prefix"
        install_prefix(channel, specs, prefix)
        for rel, data in extras.items():
            path = prefix / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if rel.startswith("bin/"):
                path.chmod(0o755)
        try:
            conda_pack.pack(prefix=str(prefix), output=str(out), format=fmt, force=True)
        except conda_pack.CondaPackException as exc:
            raise BuildError(f"conda-pack failed: {exc}") from exc

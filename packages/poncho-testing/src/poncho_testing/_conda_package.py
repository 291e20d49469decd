"""Write a ``.conda`` package file by hand (py-rattler reads packages but cannot write them).

A ``.conda`` file is an uncompressed zip holding ``metadata.json`` and two zstd-compressed
tarballs: ``pkg-<dist>.tar.zst`` (the files installed into the prefix) and
``info-<dist>.tar.zst`` (``info/index.json``, ``info/paths.json``, ``info/files``, ...).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

#: zstd level for the inner tarballs: fast enough to build a 40 MB python package in a second.
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class PackageFile:
    """One file of a package: its path inside the prefix and where its bytes come from.

    Exactly one of ``source`` (a file on disk), ``data`` (bytes) or ``link_target``
    (a relative symlink) is set. ``prefix_placeholder`` marks a text file holding the
    build prefix, which the installer rewrites to the target prefix.
    """

    path: str
    source: Path | None = None
    data: bytes | None = None
    link_target: str | None = None
    executable: bool = False
    prefix_placeholder: str | None = None

    def read(self) -> bytes:
        """The file's content (for a symlink: nothing)."""
        if self.data is not None:
            return self.data
        if self.source is not None:
            return self.source.read_bytes()
        return b""


@dataclass(frozen=True)
class PackageMeta:
    """The ``info/index.json`` fields of a package, plus ``link.json`` and ``about.json``."""

    name: str
    version: str
    build: str
    build_number: int
    subdir: str
    depends: Sequence[str] = ()
    noarch_python: bool = False
    entry_points: Sequence[str] = ()
    license: str = "Apache-2.0"
    summary: str = ""
    extra_index: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dist_name(self) -> str:
        """``name-version-build``, the file name without ``.conda``."""
        return f"{self.name}-{self.version}-{self.build}"

    def index_json(self, timestamp_ms: int) -> dict[str, Any]:
        """The content of ``info/index.json``."""
        index: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "build_number": self.build_number,
            "depends": list(self.depends),
            "license": self.license,
            "subdir": self.subdir,
            "timestamp": timestamp_ms,
        }
        if self.noarch_python:
            index["noarch"] = "python"
        else:
            platform, _, arch = self.subdir.partition("-")
            index["platform"] = platform
            index["arch"] = {"64": "x86_64", "aarch64": "aarch64", "ppc64le": "ppc64le"}.get(
                arch, arch
            )
        index.update(self.extra_index)
        return index


def write_conda_package(
    meta: PackageMeta,
    files: Sequence[PackageFile],
    dest_dir: Path,
    *,
    timestamp: float | None = None,
) -> Path:
    """Write ``<dest_dir>/<name>-<version>-<build>.conda`` and return its path.

    The file is written under a temporary name and renamed into place.
    """
    ts = time.time() if timestamp is None else timestamp
    ordered = sorted(files, key=lambda f: f.path)
    paths_entries: list[dict[str, Any]] = []
    pkg_tar = io.BytesIO()
    with tarfile.open(fileobj=pkg_tar, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in ordered:
            paths_entries.append(_add_member(tar, item, ts))
    info_members = _info_members(meta, ordered, paths_entries, int(ts * 1000))
    info_tar = io.BytesIO()
    with tarfile.open(fileobj=info_tar, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in info_members.items():
            _add_member(tar, PackageFile(name, data=data), ts)

    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{meta.dist_name}.conda"
    tmp = dest_dir / f".{meta.dist_name}.conda.{os.getpid()}.tmp"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
            zf.writestr(f"pkg-{meta.dist_name}.tar.zst", compressor.compress(pkg_tar.getvalue()))
            zf.writestr(f"info-{meta.dist_name}.tar.zst", compressor.compress(info_tar.getvalue()))
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _add_member(tar: tarfile.TarFile, item: PackageFile, ts: float) -> dict[str, Any]:
    """Add one file to ``tar``; return its ``info/paths.json`` entry."""
    info = tarfile.TarInfo(item.path)
    info.mtime = int(ts)
    info.uname = info.gname = ""
    if item.link_target is not None:
        info.type = tarfile.SYMTYPE
        info.linkname = item.link_target
        info.mode = 0o777
        tar.addfile(info)
        return {"_path": item.path, "path_type": "softlink", "size_in_bytes": 0}
    data = item.read()
    info.size = len(data)
    if item.source is not None:
        # Keep the source's mtime: timestamp-checked .pyc files next to it stay valid.
        info.mtime = int(item.source.stat().st_mtime)
    executable = item.executable or (
        item.source is not None and bool(item.source.stat().st_mode & stat.S_IXUSR)
    )
    info.mode = 0o755 if executable else 0o644
    tar.addfile(info, io.BytesIO(data))
    entry: dict[str, Any] = {
        "_path": item.path,
        "path_type": "hardlink",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_in_bytes": len(data),
    }
    if item.prefix_placeholder is not None:
        entry["file_mode"] = "text"
        entry["prefix_placeholder"] = item.prefix_placeholder
    return entry


def _info_members(
    meta: PackageMeta,
    files: Sequence[PackageFile],
    paths_entries: list[dict[str, Any]],
    timestamp_ms: int,
) -> dict[str, bytes]:
    """The files of the ``info/`` folder."""
    members = {
        "info/index.json": _json(meta.index_json(timestamp_ms)),
        "info/paths.json": _json({"paths": paths_entries, "paths_version": 1}),
        "info/files": "".join(f"{f.path}\n" for f in files).encode(),
        "info/about.json": _json(
            {"summary": meta.summary or meta.name, "license": meta.license, "home": ""}
        ),
    }
    placeholders = [f for f in files if f.prefix_placeholder is not None]
    if placeholders:
        # The pre-paths.json form, still read by some tools (conda-pack falls back to it).
        members["info/has_prefix"] = "".join(
            f"{f.prefix_placeholder} text {f.path}\n" for f in placeholders
        ).encode()
    if meta.noarch_python:
        members["info/link.json"] = _json(
            {
                "noarch": {"type": "python", "entry_points": list(meta.entry_points)},
                "package_metadata_version": 1,
            }
        )
    return members


def _json(data: object) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()

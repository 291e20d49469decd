"""Reading pip's ``--report``: what was installed, from where (the exact file URL), with
which hash: the pip part of the lock; and checking a locked install against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from poncho_create.errors import PipError
from poncho_create.lock import PipLockEntry
from poncho_create.pip_sources import normalize_name, url_to_path

__all__ = ["check_hashes", "lock_entries", "report_sha256"]


def lock_entries(
    report_data: Mapping[str, Any], path_sources: set[Path], installed_sources: set[Path]
) -> list[PipLockEntry]:
    """The lock entries of what a report says pip installed: a file from one of
    `installed_sources` is "installed", one of `path_sources` is "path", any other "index"."""
    entries = []
    for item in report_data.get("install", []):
        metadata = item.get("metadata", {})
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        local = url_to_path(url) if url.startswith("file:") else None
        if local is not None and local in installed_sources:
            source = "installed"
        elif local is not None and local in path_sources:
            source = "path"
        else:
            source = "index"
        entries.append(
            PipLockEntry(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                sha256=report_sha256(info),
                source=source,
                url=url or None,
            )
        )
    return entries


def report_sha256(info: Mapping[str, Any]) -> str | None:
    """The sha256 of a file in pip's report (``download_info``), if it gives one."""
    archive = info.get("archive_info") or {}
    sha256 = (archive.get("hashes") or {}).get("sha256")
    if sha256 is None and str(archive.get("hash", "")).startswith("sha256="):
        sha256 = str(archive["hash"]).split("=", 1)[1]
    return str(sha256) if sha256 else None


def check_hashes(locked: Sequence[PipLockEntry], installed: Sequence[PipLockEntry]) -> None:
    """PipError naming a locked package that was not installed or whose hash changed."""
    got = {normalize_name(entry.name): entry for entry in installed}
    for want in locked:
        have = got.get(normalize_name(want.name))
        if have is None:
            raise PipError(f"locked pip package {want.name} {want.version} was not installed")
        if want.sha256 and have.sha256 and want.sha256 != have.sha256:
            raise PipError(
                f"locked pip package {want.name} {want.version} changed: sha256 {have.sha256} "
                f"now, {want.sha256} in the lock"
            )

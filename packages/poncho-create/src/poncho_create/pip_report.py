"""Reading pip's ``--report``: what was installed, from where (the exact file URL, or the
repository and commit), with which hash: the pip part of the lock; and checking a locked
install against it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from poncho_create.errors import PipError
from poncho_create.local_inputs import content_digest
from poncho_create.lock import PipLockEntry
from poncho_create.pip_sources import normalize_name, url_to_path

__all__ = ["check_hashes", "lock_entries", "report_sha256"]


def lock_entries(
    report_data: Mapping[str, Any],
    path_sources: set[Path],
    installed_sources: set[Path],
    index_files: Collection[str] = (),
) -> list[PipLockEntry]:
    """The lock entries of what a report says pip installed, each with its source (see
    `poncho_create.lock.PIP_SOURCES`): a file from one of `installed_sources` is
    "installed"; a repository "vcs" (with its commit); one of `path_sources`, or another
    local folder named directly, "path" (with its content digest); another file named
    directly "url", unless it is one of `index_files` (a lock's index files, installed again
    by URL); what pip found on an index "index"."""
    entries = []
    for item in report_data.get("install", []):
        metadata = item.get("metadata", {})
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        local = url_to_path(url) if url.startswith("file:") else None
        vcs = info.get("vcs_info") or None
        sha256 = report_sha256(info)
        commit = None
        direct = bool(item.get("is_direct")) and url not in index_files
        if local is not None and local in installed_sources:
            source = "installed"
        elif vcs is not None:
            source, commit = "vcs", str(vcs.get("commit_id") or "") or None
            url = f"{vcs.get('vcs') or 'git'}+{url}"
        elif local is not None and (local in path_sources or (direct and local.is_dir())):
            source = "path"
            sha256 = sha256 or (content_digest(local) if local.exists() else None)
        elif direct:
            source = "url"
        else:
            source = "index"
        entries.append(
            PipLockEntry(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                sha256=sha256,
                source=source,
                url=url or None,
                commit=commit,
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
        if want.commit and have.commit and want.commit != have.commit:
            raise PipError(
                f"locked pip package {want.name} {want.version} changed: commit {have.commit} "
                f"now, {want.commit} in the lock"
            )
        if want.sha256 and have.sha256 and want.sha256 != have.sha256:
            raise PipError(
                f"locked pip package {want.name} {want.version} changed: sha256 {have.sha256} "
                f"now, {want.sha256} in the lock"
            )

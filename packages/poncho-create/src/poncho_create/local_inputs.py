"""What a build reads from this machine besides the spec: a digest for the cache key.

A spec's local pip paths (``{"pip": ["./mylib"]}``) and ``--find-links`` folders can change
while the spec stays the same; their digest goes into the environment cache's name, so an
edited source gives a new build instead of a stale cache hit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SKIPPED_DIRS", "content_digest", "local_inputs_digest"]

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "build",
        "dist",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
    }
)
"""Folders a build does not read: version control, caches, virtual envs and build outputs."""

_CHUNK = 1 << 20


def local_inputs_digest(paths: Sequence[Path], find_links: Iterable[str] = ()) -> str | None:
    """A sha256 of the local pip `paths` (content of every file a build would read) and of
    the local `find_links` folders (each file's name, size and mtime: wheelhouses are large
    and their files are never edited in place); None when the build reads neither."""
    digest = hashlib.sha256()
    used = False
    for path in paths:
        used = True
        digest.update(f"path\0{path}\0".encode("utf-8", "surrogateescape"))
        if path.is_dir():
            for relative, full in _tree(path):
                digest.update(
                    f"{relative}\0{os.access(full, os.X_OK):d}\0".encode("utf-8", "surrogateescape")
                )
                _file(digest, full)
        elif path.is_file():
            _file(digest, path)
    for link in find_links:
        folder = Path(link[len("file://") :] if link.startswith("file://") else link)
        if ("://" in link and not link.startswith("file://")) or not folder.is_dir():
            continue
        used = True
        digest.update(f"links\0{folder}\0".encode("utf-8", "surrogateescape"))
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.is_file():
                stat = entry.stat()
                digest.update(
                    f"{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode(
                        "utf-8", "surrogateescape"
                    )
                )
    return digest.hexdigest() if used else None


def _tree(root: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                full = Path(folder) / name
                found.append((full.relative_to(root).as_posix(), full))
    return found


def _file(digest: Any, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:  # a dangling link or unreadable file: the build will say more
        digest.update(f"unreadable\0{exc.errno}\0".encode())


def content_digest(path: Path) -> str:
    """The sha256 of what a build reads at `path`, wherever it lives: a file's bytes (what pip
    reports for an archive), or a folder's files (names, executable bits and bytes)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for relative, full in _tree(path):
            digest.update(
                f"{relative}\0{os.access(full, os.X_OK):d}\0".encode("utf-8", "surrogateescape")
            )
            _file(digest, full)
    else:
        _file(digest, path)
    return digest.hexdigest()

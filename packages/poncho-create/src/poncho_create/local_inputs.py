"""What a build reads from this machine besides the spec: digests for the cache key.

A spec's local pip paths (``{"pip": ["./mylib"]}``) and ``--find-links`` folders can change
while the spec stays the same; their digest goes into the environment cache's name, so an
edited source gives a new build instead of a stale cache hit. So does pip's own
configuration when a build reads it (``--pip-config``).

A local folder's digest never covers Poncho's own outputs, which a project folder often
holds (``poncho_package_create spec.json env.tar.gz`` run in it, or an environment cache
inside it): files ending like a tarball create writes (`TARBALL_ENDINGS`), their temporary
names while being written (``.<name>.<random>.tmp``), ``.locks`` and ``.digests`` folders
and an environment cache's conda layers (a ``layers`` folder beside ``.locks/layers``) are
left out, besides `SKIPPED_DIRS`. A project that ships such a tarball as data and edits it needs
``--force`` to be built again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "SKIPPED_DIRS",
    "TARBALL_ENDINGS",
    "content_digest",
    "local_inputs_digest",
    "pip_config_digest",
]

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
        ".locks",
        ".digests",
    }
)
"""Folders a build does not read: version control, caches, virtual envs and build outputs,
and the build locks and file digests of an environment cache."""

TARBALL_ENDINGS = (".tar.gz", ".tgz", ".tar.zst", ".tar.bz2", ".tar")
"""File endings of the tarballs create writes: never part of a local folder's digest."""

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
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS and not d.endswith(".egg-info") and not _layers(folder, d)
        )
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")) and not _our_output(name):
                full = Path(folder) / name
                found.append((full.relative_to(root).as_posix(), full))
    return found


def _layers(folder: str, name: str) -> bool:
    """Whether `name` in `folder` is the conda layers folder of an environment cache (whose
    locks are in ``.locks/layers``: `poncho_create.conda_layer`)."""
    return name == "layers" and (Path(folder) / ".locks" / "layers").is_dir()


def _our_output(name: str) -> bool:
    """A tarball create writes, or one being written (poncho-core's atomic writer names it
    ``.<name>.<random>.tmp``)."""
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    return name.endswith(TARBALL_ENDINGS)


def pip_config_digest() -> str:
    """A sha256 of pip's own configuration as a build with ``--pip-config`` reads it: the
    ``PIP_*`` variables and the content of pip's configuration files."""
    digest = hashlib.sha256()
    for key in sorted(k for k in os.environ if k.startswith("PIP_")):
        digest.update(f"env\0{key}\0{os.environ[key]}\0".encode("utf-8", "surrogateescape"))
    for path in _pip_config_files():
        digest.update(f"file\0{path}\0".encode("utf-8", "surrogateescape"))
        if path.is_file():
            _file(digest, path)
    return digest.hexdigest()


def _pip_config_files() -> list[Path]:
    """Where pip looks for configuration (global, user, ``$PIP_CONFIG_FILE``)."""
    dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    found = [Path(d) / "pip" / "pip.conf" for d in dirs.split(os.pathsep) if d]
    home = Path.home()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    found += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf"]
    found.append(Path(config_home) / "pip" / "pip.conf")
    explicit = os.environ.get("PIP_CONFIG_FILE")
    if explicit and explicit != os.devnull:
        found.append(Path(explicit))
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

"""Unpacking an environment through the node store (`poncho_run.store`).

An indexed tarball (`poncho_core.tarindex`) is read by its index with the store as the
extractor's provider: members whose files the store holds are not decompressed, their files
are linked; the files it writes are added. Any other tarball is extracted as usual, then
its files are hashed and added (`keep_tree`). Either way, before relocation, every file
conda-unpack will rewrite (its prefix list, in ``bin/conda-unpack``) is made a private
file of the folder (`unshare_prefix_files`): relocation rewrites such files in place, so
it must never reach a file another folder links.
"""

# Paths are str here: every file of an environment goes through these functions.
# ruff: noqa: PTH101, PTH105, PTH108, PTH113, PTH114, PTH118

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from poncho_core.compression import Limits
from poncho_run.store import NodeStore, file_digest

if TYPE_CHECKING:
    from poncho_core.tarindex import TarIndex

__all__ = [
    "StoreProvider",
    "extract_with_store",
    "keep_tree",
    "prefix_paths",
    "unshare_prefix_files",
]

_log = logging.getLogger(__name__)

_STATE_DIR = ".poncho-run"
_UNPACK_SCRIPT = "bin/conda-unpack"
_INDEX = "poncho/index.json"


def extract_with_store(
    archive: str,
    dest: str,
    store: NodeStore,
    index: TarIndex | None,
    use_programs: bool,
    limits: Limits,
) -> int:
    """Extract `archive` (of index `index`, None if it has none) into the empty folder
    `dest` sharing its files through `store`; returns the number of members. Raises as
    `poncho_core.extract.extract` does."""
    if index is not None:
        from poncho_core.extract_indexed import extract_indexed

        sizes = {f.sha256: f.size for f in index.files if f.type == "file"}
        count = extract_indexed(
            archive, dest, index, provider=StoreProvider(store, sizes), limits=limits, name=archive
        )
    else:
        from poncho_core.extract import extract

        count = extract(archive, dest, use_programs=use_programs, limits=limits)
        keep_tree(store, dest)
    unshare_prefix_files(dest)
    return count


class StoreProvider:
    """The hook `poncho_core`'s indexed extractor calls (its ``Provider`` protocol): `has`
    and `place` serve files the store holds (the member holding them is not even
    decompressed), `keep` adds the files it wrote. Thread-safe."""

    def __init__(self, store: NodeStore, sizes: Mapping[str, int]) -> None:
        self.store = store
        self._sizes = sizes

    def has(self, sha256: str) -> bool:
        """Whether the store holds a usable file of content `sha256`."""
        size = self._sizes.get(sha256)
        store = self.store
        return any(
            store.usable(store.path_of(sha256, mode), sha256, size) is not None
            for mode in (0o644, 0o755)
        )

    def place(self, sha256: str, path: str, mode: int) -> bool:
        """Create the file `path` (absent) of content `sha256` and permission bits `mode`
        (a link: read-only, 0444 or 0555); False if it could not."""
        return self.store.place(sha256, path, mode, self._sizes.get(sha256))

    def keep(self, sha256: str, path: str, mode: int) -> None:
        """Add the regular file `path`, just written, of content `sha256`, to the store."""
        self.store.keep(sha256, path, mode)


def prefix_paths(folder: str) -> set[str] | None:
    """The files (relative paths) of the environment in `folder` that hold the build
    prefix: conda-unpack's list, and the index's ``prefix`` records. None when
    ``bin/conda-unpack`` exists but its list cannot be read (then no file may be shared)."""
    paths: set[str] = set()
    script = os.path.join(folder, _UNPACK_SCRIPT)
    if os.path.lexists(script):
        records = _unpack_records(script)
        if records is None:
            return None
        paths.update(records)
    index = os.path.join(folder, _INDEX)
    if os.path.isfile(index) and not os.path.islink(index):
        import json

        try:
            with open(index, "rb") as handle:
                document = json.load(handle)
            paths.update(
                f["path"] for f in document["files"] if isinstance(f, dict) and f.get("prefix")
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
    return {os.path.normpath(p) for p in paths}


def _unpack_records(script: str) -> list[str] | None:
    """The paths of conda-pack's ``_prefix_records`` in the conda-unpack script."""
    import ast

    try:
        if os.path.islink(script):
            return None
        with open(script, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, ValueError, SyntaxError):
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "_prefix_records"
        ):
            try:
                records: Any = ast.literal_eval(node.value)
                return [str(record[0]) for record in records]
            except (ValueError, TypeError, IndexError, SyntaxError):
                return None
    return None


def keep_tree(store: NodeStore, folder: str, workers: int = 4) -> int:
    """Add the regular files of the environment just extracted in `folder` to `store`
    (hashing each), but those holding the build prefix and the state folder; returns how
    many were offered. Nothing is shared when the prefix list cannot be read."""
    skip = prefix_paths(folder)
    if skip is None:
        _log.info(
            "%s: cannot read the list of files conda-unpack rewrites; not sharing its "
            "files through the node store",
            folder,
        )
        return 0
    todo: list[tuple[str, int]] = []
    seen: set[tuple[int, int]] = set()
    for current, dirs, files in os.walk(folder):
        if current == folder and _STATE_DIR in dirs:
            dirs.remove(_STATE_DIR)
        for name in files:
            path = os.path.join(current, name)
            info = os.lstat(path)
            inode = (info.st_dev, info.st_ino)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or inode in seen:
                continue
            seen.add(inode)
            if os.path.relpath(path, folder) not in skip:
                todo.append((path, stat.S_IMODE(info.st_mode)))

    def share(item: tuple[str, int]) -> None:
        path, mode = item
        try:
            digest = file_digest(path)
        except OSError as exc:
            _log.debug("%s: cannot hash it: %s", path, exc)
            return
        store.keep(digest, path, mode)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, os.cpu_count() or 1))) as pool:
        list(pool.map(share, todo))
    return len(todo)


def unshare_prefix_files(folder: str) -> int:
    """Make every file relocation will rewrite in `folder` a private, writable file of the
    folder (a copy where it is linked elsewhere); when the prefix list cannot be read,
    every linked file. Returns how many were copied."""
    skip = prefix_paths(folder)
    if skip is None:
        candidates: list[str] = []
        for current, _dirs, files in os.walk(folder):
            candidates.extend(os.path.relpath(os.path.join(current, n), folder) for n in files)
    else:
        candidates = sorted(skip)
    copied = 0
    for rel in candidates:
        path = os.path.join(folder, rel)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
            continue
        temp = f"{path}.poncho-own-{os.urandom(4).hex()}"
        try:
            shutil.copyfile(path, temp, follow_symlinks=False)
            os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
            os.chmod(temp, stat.S_IMODE(info.st_mode) | stat.S_IWUSR)
            os.replace(temp, path)
        except OSError:
            if os.path.lexists(temp):
                os.unlink(temp)
            raise
        copied += 1
    return copied

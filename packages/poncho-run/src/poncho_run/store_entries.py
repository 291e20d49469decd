"""The node store's files as ``poncho cache list|prune`` sees them (`poncho_run.store`).

A store file's link count is 1 + the number of environment folders that link it: an entry of
link count 1 is linked by no folder, and only such an entry is removed. A folder's files are
its own names of the data: removing the store's name never breaks one.
"""

# ruff: noqa: PTH108, PTH118

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

__all__ = ["StoreEntry", "remove_entry", "store_entries"]

_TEMP = ".tmp-"


@dataclass(frozen=True)
class StoreEntry:
    """One file of the store: its `name` (``aa/<sha256>.r``), `size` (bytes on disk),
    `links` (1: no environment folder links it) and `last_used` (epoch seconds of the last
    link made or removed: the file's ctime)."""

    name: str
    size: int
    links: int
    last_used: float


def store_entries(root: str) -> list[StoreEntry]:
    """The files of the store at `root`, least recently linked first (leftover temporary
    files too, with a link count of 1)."""
    found = []
    try:
        tops = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    for top in tops:
        if top.name.startswith(_TEMP) and top.is_file(follow_symlinks=False):
            info = top.stat(follow_symlinks=False)
            found.append(StoreEntry(top.name, info.st_blocks * 512, 1, info.st_ctime))
            continue
        if not top.is_dir(follow_symlinks=False):
            continue
        with os.scandir(top.path) as files:
            for file in files:
                try:
                    info = file.stat(follow_symlinks=False)
                except OSError:
                    continue
                name = f"{top.name}/{file.name}"
                found.append(StoreEntry(name, info.st_blocks * 512, info.st_nlink, info.st_ctime))
    found.sort(key=lambda e: e.last_used)
    return found


def remove_entry(root: str, name: str) -> bool:
    """Remove entry `name` of the store at `root` if no folder links it (link count 1);
    whether it went."""
    path = os.path.join(root, name)
    if os.path.normpath(path) != path or not path.startswith(root.rstrip(os.sep) + os.sep):
        return False
    try:
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            return False
        os.unlink(path)
    except OSError:
        return False
    return True

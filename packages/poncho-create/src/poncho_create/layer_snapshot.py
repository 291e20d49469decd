"""What a folder tree holds, and putting it back: how a build's pip step is kept out of the
reused conda layer (`poncho_create.conda_layer`).

A snapshot records every path under the folder with its type, inode, size and modification
time (``lstat``, links not followed). `restore` removes every path the snapshot does not
hold (files pip added, ``__pycache__`` folders, our ``poncho/`` files) and reports every
snapshot path that is gone or is no longer the same file: removed, replaced (a new inode),
or written in place (another size or time). A folder counts as the same while it is the
same folder (its inode): adding and removing entries changes its size and time.

One change is not one: a ``__pycache__/*.pyc`` file replaced by another regular file.
Python writes it whenever it imports a module whose ``.pyc`` is stale, e.g. the modules of
conda's python package that the install rewrote with the prefix (``_sysconfigdata_*``);
any build would have done the same, and the module's source is checked like any file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from poncho_core.fs import rmtree

__all__ = ["Restored", "Snapshot", "restore", "snapshot"]

# type (S_IFMT), inode, size, mtime_ns
_Entry = tuple[int, int, int, int]


@dataclass(frozen=True)
class Snapshot:
    """The paths under `root` (relative, ``/``-separated) and their `_Entry`."""

    root: Path
    entries: dict[str, _Entry]


@dataclass
class Restored:
    """What `restore` did: the paths it removed (the top of each removed tree) and the
    snapshot paths it found changed or missing (then the tree is not as it was)."""

    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    recompiled: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Whether the tree is again exactly as the snapshot saw it."""
        return not self.changed and not self.missing


def snapshot(root: Path) -> Snapshot:
    """Every path under `root` (not `root` itself) with its `_Entry`."""
    entries: dict[str, _Entry] = {}
    stack = [("", os.fspath(root))]
    while stack:
        rel, folder = stack.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                st = entry.stat(follow_symlinks=False)
                name = f"{rel}{entry.name}"
                entries[name] = _entry(st)
                if stat.S_ISDIR(st.st_mode):
                    stack.append((name + "/", entry.path))
    return Snapshot(root, entries)


def restore(before: Snapshot) -> Restored:
    """Remove what is under `before.root` but not in `before`; report what differs."""
    done = Restored()
    seen: set[str] = set()
    stack = [("", os.fspath(before.root))]
    while stack:
        rel, folder = stack.pop()
        with os.scandir(folder) as listing:
            found = list(listing)
        for entry in found:
            name = f"{rel}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            old = before.entries.get(name)
            if old is None:
                rmtree(entry.path)
                done.removed.append(name)
                continue
            seen.add(name)
            new = _entry(st)
            if not _same(old, new):
                (done.recompiled if _recompiled(name, old, new) else done.changed).append(name)
            elif stat.S_ISDIR(st.st_mode):
                stack.append((name + "/", entry.path))
    # Below a changed folder nothing was looked at: it is not "missing".
    done.missing = sorted(
        name
        for name in before.entries.keys() - seen
        if not any(name.startswith(c + "/") for c in done.changed) and _parent_seen(name, seen)
    )
    done.removed.sort()
    done.changed.sort()
    return done


def _entry(st: os.stat_result) -> _Entry:
    return (stat.S_IFMT(st.st_mode), st.st_ino, st.st_size, st.st_mtime_ns)


def _same(old: _Entry, new: _Entry) -> bool:
    if old[0] != new[0] or old[1] != new[1]:
        return False
    return old[0] == stat.S_IFDIR or old == new


def _recompiled(name: str, old: _Entry, new: _Entry) -> bool:
    regular = old[0] == new[0] == stat.S_IFREG
    return regular and name.endswith(".pyc") and "__pycache__/" in name


def _parent_seen(name: str, seen: set[str]) -> bool:
    """Whether the folder holding `name` was looked at (the top level always is): a
    missing folder's content is reported as the folder alone."""
    parent = name.rpartition("/")[0]
    return not parent or parent in seen

"""The node store: files of unpacked environments shared by content, through hard links.

A store is a folder of read-only files named by their sha256, per node and per user:
``<parent of DIR>/.poncho-store-<uid>/`` by default (beside the DIRs, so on their file
system), ``$PONCHO_RUN_STORE`` to place it, ``off`` (or ``--no-store``) to do without::

    .poncho-store-1000/          0700, owned by the user
      3f/3fa9...e1.r             a file's content, 0444 (``.x``: 0555, an executable)
      .tmp-XXXXXXXX              a file being added (renamed into place when complete)

An environment folder's regular files are hard links to these (the extractor's hook is
`poncho_run._stored.StoreProvider`: `has`, `place`, `keep`); two folders holding the same
file share its blocks. The link count of a store file says how many folders link it: 1 is
the store's own name only, so the file can go (`poncho_run.store_entries`) without
breaking any folder, whose files are their own names of the same data.

What is trusted. A file enters the store only by an atomic link of a file the store made
read-only, or an atomic rename of a temporary file it linked or wrote, whose digest the
extractor checked against the archive's index or the store computed. A file found there
is used only if ``lstat`` (never following a link) shows a regular file owned by the user,
with no write bit, of the size the archive gives; before its first use in a process its
sha256 is computed and compared with its name (a mismatch: the file is not used, and the
next `keep` replaces it). The store folder itself must be a folder of the user's, not
writable by others.

Only files no one rewrites are shared: files holding the build prefix (rewritten where an
environment is unpacked) never enter the store, store files are read-only, and an entry is
shared only between files of the same mode (``.r``/``.x``) and, when an existing file is
replaced by a link, the same mtime (a ``.py`` file's mtime validates its ``.pyc``).
"""

# Paths are str here: every file of an environment goes through these functions.
# ruff: noqa: PTH101, PTH102, PTH103, PTH105, PTH106, PTH108, PTH116, PTH118, PTH120

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import threading

from poncho_run.store_entries import remove_entry
from poncho_run.store_where import STORE_ENV, STORE_PREFIX, device_of, file_digest, store_root

__all__ = ["STORE_ENV", "STORE_PREFIX", "NodeStore", "file_digest", "open_store", "store_root"]

_TEMP = ".tmp-"
# Link errors that mean "this file system will not link these": copy instead.
_NO_LINK = (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP)

_log = logging.getLogger(__name__)


def open_store(
    folder: str | None, setting: bool | str | os.PathLike[str], near: str | None = None
) -> NodeStore | None:
    """The node store environment folder `folder` unpacks through (None: none; see
    `store_root`); `near` is where its files are created (default: `folder`'s parent)."""
    root = store_root(folder, setting)
    if root is None:
        return None
    if near is None and folder is not None:
        near = os.path.dirname(folder)
    return NodeStore.open(root, near)


class NodeStore:
    """The store at `root` (see the module's notes). `open` checks it; `copies` is true
    when it cannot link into the folders it serves (another file system): files are then
    copied to and from it."""

    def __init__(self, root: str, *, copies: bool = False) -> None:
        self.root = root
        self.copies = copies
        self._verified: dict[tuple[str, int, int], bool] = {}
        self._lock = threading.Lock()
        self._said_copies = copies
        self._ready: bool | None = None  # None: not checked yet; False: not usable
        self._created = False
        self._added: list[str] = []
        self._folders: set[str] = set()  # the store's subfolders known to exist

    @classmethod
    def open(cls, root: str, near: str | None = None) -> NodeStore | None:
        """The store at `root`, serving folders created in the folder `near`; None (with a
        warning) when it exists and cannot be used: not a folder of the user's, or writable
        by others. A missing store is created (0700) when a first file is added, so that an
        unpack refused early leaves nothing beside DIR."""
        store = cls(root)
        try:
            info: os.stat_result | None = os.lstat(root)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            _log.warning("%s: cannot use it as the node store (%s); unpacking without", root, exc)
            return None
        if info is not None and not store._usable_root(info):
            return None
        store._ready = True if info is not None else None
        if near is not None:
            try:
                here = info.st_dev if info is not None else device_of(root)
                store.copies = store._said_copies = os.stat(near).st_dev != here
            except OSError:
                pass
        if store.copies:
            _log.info(
                "the node store %s is on another file system than %s: files are copied, "
                "not linked (set %s to a folder on the same one)",
                root,
                near,
                STORE_ENV,
            )
        return store

    def _usable_root(self, info: os.stat_result) -> bool:
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            _log.warning("%s: not a folder of this user's; unpacking without the store", self.root)
            return False
        if info.st_mode & 0o022:
            _log.warning("%s: others can write in it; unpacking without the store", self.root)
            return False
        return True

    def _ensure_root(self) -> bool:
        """Create the store folder if it is missing (0700); whether it can be used."""
        with self._lock:
            if self._ready is None:
                try:
                    os.makedirs(os.path.dirname(self.root), exist_ok=True)
                    try:
                        os.mkdir(self.root, 0o700)
                        self._created = True
                    except FileExistsError:
                        pass
                    self._ready = self._usable_root(os.lstat(self.root))
                except OSError as exc:
                    _log.warning(
                        "%s: cannot create the node store (%s); unpacking without",
                        self.root,
                        exc.strerror or exc,
                    )
                    self._ready = False
            return self._ready

    def path_of(self, sha256: str, mode: int) -> str:
        """Where the store keeps content `sha256` for a file of permission bits `mode`."""
        kind = "x" if mode & 0o111 else "r"
        return os.path.join(self.root, sha256[:2], f"{sha256}.{kind}")

    # -- trust ------------------------------------------------------------------------------

    def usable(self, path: str, sha256: str, size: int | None) -> os.stat_result | None:
        """The ``lstat`` of store file `path` if it may be used for content `sha256` of
        `size` bytes (see the module's notes: checked once per process), else None."""
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or info.st_mode & 0o222
            or (size is not None and info.st_size != size)
        ):
            return None
        key = (path, info.st_ino, info.st_mtime_ns)
        with self._lock:
            known = self._verified.get(key)
        if known is None:
            try:
                known = file_digest(path) == sha256
            except OSError:
                known = False
            if not known:
                _log.info("%s: not the content its name says; not used", path)
            with self._lock:
                self._verified[key] = known
        return info if known else None

    # -- adding -----------------------------------------------------------------------------

    def keep(self, sha256: str, path: str, mode: int) -> None:
        """Share the regular file at `path`, just written and of content `sha256` (checked
        by the caller), through the store: when the store holds the same content, mode
        and mtime, `path` becomes a link to it; else `path` (made read-only) becomes the
        store's file, or a copy of it does (`copies`). Failures leave `path` as it is."""
        try:
            self._keep(sha256, path, mode)
        except OSError as exc:
            _log.debug("%s: not shared through the store: %s", path, exc)

    def _keep(self, sha256: str, path: str, mode: int) -> None:
        if not self._ensure_root():
            return
        mine = os.lstat(path)
        if not stat.S_ISREG(mine.st_mode):
            return
        target = self.path_of(sha256, mode)
        there = self.usable(target, sha256, mine.st_size)
        if there is not None:
            if there.st_ino == mine.st_ino and there.st_dev == mine.st_dev:
                return
            if not self.copies and int(there.st_mtime) == int(mine.st_mtime):
                self._replace_by_link(target, path)
            return
        folder = os.path.dirname(target)
        if folder not in self._folders:
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                pass
            self._folders.add(folder)
        read_only = 0o555 if mode & 0o111 else 0o444
        if not self.copies and self._link_new(path, target, read_only):
            return
        temp = self._temp_name()
        if self.copies:
            shutil.copyfile(path, temp, follow_symlinks=False)
            os.utime(temp, ns=(mine.st_atime_ns, mine.st_mtime_ns))
            os.chmod(temp, read_only)
        else:
            # The folder's file becomes the store's: read-only from now on.
            os.chmod(path, read_only)
            try:
                os.link(path, temp, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                self._say_copies(exc)
                shutil.copyfile(path, temp, follow_symlinks=False)
                os.utime(temp, ns=(mine.st_atime_ns, mine.st_mtime_ns))
                os.chmod(temp, read_only)
        try:
            os.replace(temp, target)  # over a planted name too: a link is replaced, not followed
        except OSError:
            _unlink(temp)
            raise
        self._note_added(target)

    def _link_new(self, path: str, target: str, read_only: int) -> bool:
        """Make the folder's file `path` (read-only from now on) the store's `target` by
        one link, when no name is there yet (as atomic as the rename `_keep` makes
        otherwise, one system call fewer); False when a name is there (a planted one, or
        another run's: `_keep` renames over it) or links are refused."""
        os.chmod(path, read_only)
        try:
            os.link(path, target, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.EEXIST and exc.errno not in _NO_LINK:
                raise
            return False
        self._note_added(target)
        return True

    def _note_added(self, target: str) -> None:
        with self._lock:
            info = os.lstat(target)
            self._verified[(target, info.st_ino, info.st_mtime_ns)] = True
            self._added.append(target)

    def forget_added(self) -> None:
        """Undo what this process added, as far as no folder links it (the unpack that
        added it failed, and its folder is gone): an unpack refused after some files were
        kept leaves the store as it found it, or no store at all if it made it."""
        with self._lock:
            added, self._added = self._added, []
        for path in added:
            remove_entry(self.root, os.path.relpath(path, self.root))
        if self._created:
            for path in [*sorted({os.path.dirname(p) for p in added}), self.root]:
                try:
                    os.rmdir(path)  # only if empty: another run may be adding to it
                except OSError:
                    pass

    def _replace_by_link(self, source: str, path: str) -> None:
        temp = f"{path}.poncho-link-{os.urandom(4).hex()}"
        try:
            os.link(source, temp, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in _NO_LINK:
                self._say_copies(exc)
                return  # path stays a file of its own
            raise
        try:
            os.replace(temp, path)
        except OSError:
            _unlink(temp)
            raise

    def _temp_name(self) -> str:
        return os.path.join(self.root, f"{_TEMP}{os.urandom(8).hex()}")

    def _say_copies(self, exc: OSError) -> None:
        with self._lock:
            said, self._said_copies = self._said_copies, True
        if not said:
            _log.info(
                "the node store %s: cannot link files (%s); copying them instead",
                self.root,
                exc.strerror or exc,
            )

    # -- placing ----------------------------------------------------------------------------

    def place(self, sha256: str, path: str, mode: int, size: int | None) -> bool:
        """Create `path` (absent; its folder exists) with content `sha256`: a link to the
        store's file, or a copy (`copies`, or a file system refusing the link). False if
        the store has no usable file for it."""
        source = self.path_of(sha256, mode)
        if self.usable(source, sha256, size) is None:
            other = self.path_of(sha256, 0 if mode & 0o111 else 0o100)
            if self.usable(other, sha256, size) is None:
                return False
            try:
                source = self._variant(other, source, mode)
            except OSError as exc:
                _log.debug("%s: cannot make the other mode's file: %s", source, exc)
                return False
        if not self.copies:
            try:
                os.link(source, path, follow_symlinks=False)
                return True
            except FileNotFoundError:
                return False  # pruned meanwhile
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                self._say_copies(exc)
        try:
            shutil.copyfile(source, path, follow_symlinks=False)
            info = os.lstat(source)
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
            os.chmod(path, mode & 0o777)
        except FileNotFoundError:
            _unlink(path)
            return False
        return True

    def _variant(self, other: str, target: str, mode: int) -> str:
        """A copy of store file `other` as the store file `target` of the other mode."""
        temp = self._temp_name()
        try:
            shutil.copyfile(other, temp, follow_symlinks=False)
            info = os.lstat(other)
            os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
            os.chmod(temp, 0o555 if mode & 0o111 else 0o444)
            os.replace(temp, target)
        except OSError:
            _unlink(temp)
            raise
        info = os.lstat(target)
        with self._lock:
            self._verified[(target, info.st_ino, info.st_mtime_ns)] = True
        return target


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

"""Where the node store is (`store_root`: ``$PONCHO_RUN_STORE``, else beside the DIRs),
and the digest its files are named by (`file_digest`); the store itself is
`poncho_run.store`."""

# ruff: noqa: PTH100, PTH116, PTH118, PTH120

from __future__ import annotations

import os

from poncho_core.fs import file_sha256

__all__ = ["STORE_ENV", "STORE_PREFIX", "device_of", "file_digest", "store_root"]

#: The variable that places the store (a folder) or turns it off (``off``).
STORE_ENV = "PONCHO_RUN_STORE"
#: The default store's name, beside the DIRs: ``.poncho-store-<uid>``.
STORE_PREFIX = ".poncho-store-"


def store_root(folder: str | None, setting: bool | str | os.PathLike[str] = True) -> str | None:
    """The store of the environment folder `folder`, or None when there is none.

    `setting` False: no store; a path: that folder; True: ``$PONCHO_RUN_STORE`` (``off``:
    none), else ``.poncho-store-<uid>`` in `folder`'s parent (a `folder` of None, a
    temporary folder, has no default store)."""
    if setting is False:
        return None
    if setting is not True:
        return os.path.abspath(os.fspath(setting))
    value = os.environ.get(STORE_ENV, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return os.path.abspath(value)
    if folder is None:
        return None
    parent = os.path.dirname(os.path.abspath(folder))
    return os.path.join(parent, f"{STORE_PREFIX}{os.getuid()}")


def file_digest(path: str) -> str:
    """The sha256 of the regular file at `path` (not followed if it is a link: OSError)."""
    return file_sha256(path, follow_links=False)


def device_of(path: str) -> int:
    """The device of `path`'s nearest existing folder (where it will be created)."""
    while True:
        try:
            return os.stat(path).st_dev
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent == path:
                raise
            path = parent

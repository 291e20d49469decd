"""Unpack an environment into a folder once, safely shared by simultaneous runs.

`ensure_ready` is the ``-d DIR`` path:

1. ``DIR/.poncho-run/state.json`` exists: the folder is ready; nothing else is looked at.
2. Otherwise take the lock on DIR (`poncho_run.lock`), waiting up to `wait` seconds, and
   check again (another run may have finished meanwhile).
3. DIR missing or empty: extract the archive into a sibling temporary folder
   (``DIR.poncho-tmp-XXXX``), then rename it to DIR. A run killed in the middle leaves
   only that sibling, which the next run holding the lock removes; DIR is never seen
   half-filled.
4. DIR (now) full but without state (unpacked by hand, or by a run killed between the
   rename and the state file): `finalize` it in place, without extracting anything.

`finalize` relocates the prefix (``conda-unpack``), computes the activation and writes the
state file last; it runs once per unpack, never per run.

The folder's parent must be writable (for the lock and the temporary sibling). A full folder
whose lock cannot be created (a read-only installation) is used as it is, with its activation
computed for each run.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from poncho_run import _state
from poncho_run.activate import compute_activation
from poncho_run.errors import EnvironmentNotFound, RunError, UnpackError
from poncho_run.extract import extract
from poncho_run.lock import folder_lock
from poncho_run.relocate import relocate

__all__ = ["TEMP_INFIX", "ensure_ready", "finalize", "unpack_into"]

TEMP_INFIX = ".poncho-tmp-"

_log = logging.getLogger(__name__)


def ensure_ready(
    archive: str | None, folder: str, wait: float, *, use_programs: bool = True
) -> dict[str, Any]:
    """Make `folder` a ready environment (unpacking `archive` if it is missing or empty)
    and return its state. `archive` may be None when the folder is expected to be full."""
    folder = os.path.abspath(folder)  # noqa: PTH100 (not resolve(): keep the user's links)
    state = _state.read_state(folder)
    if state is not None:
        return state
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise RunError(f"{folder}: exists and is not a folder")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnpackError(f"cannot create {parent}: {exc.strerror or exc}") from exc
    try:
        lock = folder_lock(folder, wait, done=lambda: _state.read_state(folder) is not None)
        with lock:
            return _ensure_locked(archive, folder, use_programs)
    except OSError as exc:
        if isinstance(exc, RunError):
            raise
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and _is_full(folder):
            _log.warning(
                "%s: cannot lock it (%s); using it as it is, without relocating it",
                folder,
                exc.strerror,
            )
            return _compute_state(folder)
        raise UnpackError(f"cannot lock {folder}: {exc.strerror or exc}") from exc


def _ensure_locked(archive: str | None, folder: str, use_programs: bool) -> dict[str, Any]:
    state = _state.read_state(folder)
    if state is not None:
        return state
    if not _is_full(folder):
        if archive is None:
            raise EnvironmentNotFound(
                f"{folder}: is empty or missing, and no environment (-e) was given"
            )
        _remove_stale_siblings(folder)
        path = Path(folder)
        temp = tempfile.mkdtemp(prefix=path.name + TEMP_INFIX, dir=path.parent)
        try:
            _log.info("unpacking %s into %s", archive, folder)
            extract(archive, temp, use_programs=use_programs)
            _rename_into_place(temp, folder)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    else:
        _log.info("%s: full but not prepared by poncho-run; using its content as it is", folder)
    return finalize(folder)


def unpack_into(archive: str, folder: str, *, use_programs: bool = True) -> dict[str, Any]:
    """Extract `archive` into the existing empty `folder` (one the caller owns; no lock,
    no rename) and `finalize` it."""
    extract(archive, folder, use_programs=use_programs)
    return finalize(folder)


def finalize(folder: str) -> dict[str, Any]:
    """Relocate the environment at `folder`, compute its activation, write its state file
    (last) and return the state."""
    relocated = relocate(folder)
    state = _compute_state(folder)
    state["relocated"] = relocated
    try:
        _state.write_state(folder, state)
    except OSError as exc:
        raise UnpackError(f"{folder}: cannot write the state file: {exc.strerror or exc}") from exc
    return _state.read_state(folder) or state


def _compute_state(folder: str) -> dict[str, Any]:
    from poncho_run.data import spec_has_data

    return {
        "prefix": folder,
        "activation": compute_activation(folder),
        "data": spec_has_data(folder),
    }


def _is_full(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except FileNotFoundError:
        return False
    except NotADirectoryError as exc:
        raise RunError(f"{folder}: exists and is not a folder") from exc


def _remove_stale_siblings(folder: str) -> None:
    """Remove temporary siblings left by runs killed while unpacking (we hold the lock, so
    no living run owns one)."""
    path = Path(folder)
    start = path.name + TEMP_INFIX
    stale = [
        entry
        for entry in path.parent.iterdir()
        if entry.name.startswith(start) and entry.is_dir() and not entry.is_symlink()
    ]
    for path in stale:
        _log.info("removing %s, left by an interrupted unpack", path)
        shutil.rmtree(path, ignore_errors=True)


def _rename_into_place(temp: str, folder: str) -> None:
    try:
        # Replaces `folder` if it is an empty folder (POSIX rename); creates it otherwise.
        Path(temp).rename(folder)
    except OSError as exc:
        raise UnpackError(
            f"cannot move the unpacked environment into {folder}: {exc.strerror or exc} "
            "(is it a mount point? give a folder inside it)"
        ) from exc

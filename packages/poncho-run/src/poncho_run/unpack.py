"""Unpack an environment into a folder once, safely shared by simultaneous runs.

`ensure_ready` is the ``-u DIR`` path:

1. ``DIR/.poncho-run/state.json`` exists: the folder is ready; nothing else is looked at.
2. Otherwise take the lock on DIR (`poncho_run.lock`), waiting up to `wait` seconds, and
   check again (another run may have finished meanwhile).
3. DIR missing or empty: extract the archive into a sibling temporary folder
   (``DIR.poncho-tmp-XXXX``), `finalize` it through a symbolic link DIR -> sibling
   (conda-unpack takes the prefix from its own path), then replace the link by the sibling
   (rename). A run killed in the middle leaves only the sibling (and maybe the link), which
   the next run holding the lock removes; DIR is never seen half-filled or half-relocated.
4. DIR full but without state (unpacked by hand): `finalize` it in place, without
   extracting anything.

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
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from poncho_core.errors import PonchoError
from poncho_run import _state
from poncho_run.activate import compute_activation
from poncho_run.archive import check_extracted, extract_environment
from poncho_run.errors import EnvironmentNotFound, RunError, UnpackError
from poncho_run.lock import folder_lock
from poncho_run.relocate import relocate

__all__ = [
    "TEMP_INFIX",
    "check_archive",
    "check_extracted",
    "drop_packed_state",
    "ensure_ready",
    "finalize",
    "unpack_into",
]

TEMP_INFIX = ".poncho-tmp-"

_log = logging.getLogger(__name__)


def ensure_ready(
    archive: str | None,
    folder: str,
    wait: float,
    *,
    use_programs: bool = True,
    require_env: bool = False,
    store: bool | str | os.PathLike[str] = True,
) -> dict[str, Any]:
    """Make `folder` a ready environment (unpacking `archive` if it is missing or empty)
    and return its state. `archive` may be None when the folder is expected to be full.
    `store` is the node store to share files through (`poncho_run.store.store_root`:
    True the default one, False none, or its folder).

    A folder unpacked from another archive than `archive` raises `WrongArchive`; with
    `require_env` (an unpack folder, not an environment given as a folder), a full folder
    that holds no conda environment raises `NotAnEnvironment` and nothing is written in it.
    """
    folder = _state.folder_path(folder)
    state = _state.read_state(folder)
    if state is None:
        try:
            state = _prepare(archive, folder, wait, use_programs, require_env, store)
        except OSError as exc:
            if isinstance(exc, PonchoError):
                raise
            # A loop of links, a name too long, ...: a path the system refuses (issue 13).
            raise UnpackError(f"{folder}: {exc.strerror or exc}") from exc
    if archive is not None:
        check_archive(folder, archive, state)
    return state


def check_archive(folder: str, archive: str, state: Mapping[str, Any]) -> None:
    """Raise `WrongArchive` if `folder` (whose state is `state`) was unpacked from another
    archive than `archive`. Folders whose origin is not recorded pass."""
    from poncho_run import identity
    from poncho_run.errors import WrongArchive

    recorded = state.get("archive")
    if not isinstance(recorded, dict) or not os.path.isfile(archive):  # noqa: PTH113
        return
    try:
        same = identity.matches(archive, recorded)
    except OSError as exc:
        raise RunError(f"{archive}: cannot read: {exc.strerror or exc}") from exc
    if not same:
        raise WrongArchive(
            folder,
            archive,
            str(recorded.get("path", "another archive")),
            identity.difference(archive, recorded),
        )


def _prepare(
    archive: str | None,
    folder: str,
    wait: float,
    use_programs: bool,
    require_env: bool,
    store: bool | str | os.PathLike[str] = True,
) -> dict[str, Any]:
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise RunError(f"{folder}: exists and is not a folder")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnpackError(f"cannot create {parent}: {exc.strerror or exc}") from exc
    with ExitStack() as stack:
        try:
            stack.enter_context(
                folder_lock(folder, wait, done=lambda: _state.read_state(folder) is not None)
            )
        except OSError as exc:
            if isinstance(exc, PonchoError):  # LockTimeout, UnpackError
                raise
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and _is_full(folder):
                _log.warning(
                    "%s: cannot lock it (%s); using it as it is, without relocating it",
                    folder,
                    exc.strerror,
                )
                return _compute_state(folder)
            raise UnpackError(f"cannot lock {folder}: {exc.strerror or exc}") from exc
        return _ensure_locked(archive, folder, use_programs, require_env, store)
    raise AssertionError("unreachable")  # pragma: no cover (for type checkers)


def _ensure_locked(
    archive: str | None,
    folder: str,
    use_programs: bool,
    require_env: bool,
    store: bool | str | os.PathLike[str] = True,
) -> dict[str, Any]:
    state = _state.read_state(folder)
    if state is not None:
        return state
    _remove_leftovers(folder)
    if _state.publish_state(folder):
        # Renamed into place by a run killed before it published the state.
        state = _state.read_state(folder)
        if state is not None:
            return state
    if _is_full(folder):
        if require_env and not _holds_env(folder):
            from poncho_run.errors import NotAnEnvironment

            raise NotAnEnvironment(
                f"{folder}: is not empty and holds no conda environment (no conda-meta/, no "
                "bin/python); give an empty or new folder (-u DIR), or -e DIR for an "
                "unpacked environment"
            )
        _log.info("%s: full but not prepared by poncho-run; using its content as it is", folder)
        return finalize(folder)
    if archive is None:
        raise EnvironmentNotFound(
            f"{folder}: is empty or missing, and no environment (-e) was given"
        )
    from poncho_run.identity import ArchiveHasher
    from poncho_run.store import open_store

    temp = _make_sibling(folder)
    node_store = None
    try:
        _log.info("unpacking %s into %s", archive, folder)
        hasher = ArchiveHasher(archive).start()  # on another core, while extracting
        node_store = open_store(folder, store)
        extract_environment(archive, temp, use_programs=use_programs, store=node_store)
        drop_packed_state(temp, archive)  # before the link DIR -> temp can show it
        return _finalize_and_move(temp, folder, hasher.result())
    except BaseException:
        if Path(folder).is_symlink() and str(Path(folder).readlink()) == temp:
            Path(folder).unlink()
        _discard(temp)
        if node_store is not None:
            node_store.forget_added()
        raise


def _finalize_and_move(
    temp: str, folder: str, archive: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`finalize` the environment unpacked in `temp` as if it were at `folder`, then move it
    there. conda-unpack takes the prefix from its own path, so it runs through a symbolic
    link `folder` -> `temp`; the link is then replaced by the folder itself (a rename):
    `folder` never holds a partly unpacked or partly relocated environment."""
    path = Path(folder)
    try:
        if path.is_dir():
            path.rmdir()  # empty (checked under the lock); rename could replace it, not symlink
        path.symlink_to(temp)
    except OSError as exc:
        raise UnpackError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    # The state stays pending until the rename: a run that saw it through the link would
    # take the folder as ready and could exec a command from it between the unlink and the
    # rename below (the 126/127 of issue 10).
    state = finalize(folder, pending=True, archive=archive)
    try:
        path.unlink()
        Path(temp).rename(folder)
    except OSError as exc:
        raise UnpackError(
            f"cannot move the unpacked environment into {folder}: {exc.strerror or exc}"
        ) from exc
    try:
        _state.publish_state(folder)
    except OSError as exc:
        # DIR is ours (renamed there under the lock a moment ago): a DIR that cannot be
        # published goes, so that the next run unpacks it again rather than stumble on it.
        _discard(folder)
        raise UnpackError(f"{folder}: cannot publish its state: {exc.strerror or exc}") from exc
    return state


def unpack_into(
    archive: str,
    folder: str,
    *,
    use_programs: bool = True,
    store: bool | str | os.PathLike[str] = True,
) -> dict[str, Any]:
    """Extract `archive` into the existing empty `folder` (one the caller owns; no lock,
    no rename) and `finalize` it. A temporary folder has no default store: `store` True
    means ``$PONCHO_RUN_STORE`` only."""
    from poncho_run.store import open_store

    node_store = open_store(None, store, near=folder)
    try:
        extract_environment(archive, folder, use_programs=use_programs, store=node_store)
        drop_packed_state(folder, archive)
        return finalize(folder)
    except BaseException:
        if node_store is not None:
            _discard(folder)  # the caller removes it too; first, so that nothing links
            node_store.forget_added()
        raise


def finalize(
    folder: str, *, pending: bool = False, archive: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Relocate the environment at `folder`, compute its activation, write its state file
    (last; with `pending`, not yet published: see `_state.write_state`) and return the
    state. `archive` is the identity of the archive it came from (`poncho_run.identity`)."""
    relocated = relocate(folder)
    state = _compute_state(folder)
    state["relocated"] = relocated
    if archive:
        state["archive"] = archive
    try:
        _state.write_state(folder, state, pending=pending)
    except OSError as exc:
        raise UnpackError(f"{folder}: cannot write the state file: {exc.strerror or exc}") from exc
    return {"state_version": _state.STATE_VERSION, **state}


def _compute_state(folder: str) -> dict[str, Any]:
    from poncho_run.data import spec_has_data

    return {
        "prefix": folder,
        "activation": compute_activation(folder),
        "data": spec_has_data(folder),
    }


def _holds_env(folder: str) -> bool:
    """Whether `folder` looks like a conda environment (conda-meta/ or bin/python)."""
    return os.path.isdir(os.path.join(folder, "conda-meta")) or os.path.lexists(  # noqa: PTH112, PTH118
        os.path.join(folder, "bin", "python")  # noqa: PTH118
    )


def _is_full(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except FileNotFoundError:
        return False
    except NotADirectoryError as exc:
        raise RunError(f"{folder}: exists and is not a folder") from exc


def _remove_leftovers(folder: str) -> None:
    """Remove what runs killed while unpacking left (we hold the lock, so no living run owns
    any of it): temporary siblings, and `folder` itself if it is still their link."""
    path = Path(folder)
    start = path.name + TEMP_INFIX
    if path.is_symlink() and path.readlink().name.startswith(start):
        _log.info("removing the link %s, left by an interrupted unpack", folder)
        path.unlink()
    stale = [
        entry
        for entry in path.parent.iterdir()
        if entry.name.startswith(start) and entry.is_dir() and not entry.is_symlink()
    ]
    for entry in stale:
        _log.info("removing %s, left by an interrupted unpack", entry)
        _discard(entry)


def _make_sibling(folder: str) -> str:
    """A new empty folder next to `folder`, with the permissions a plain mkdir gives (not
    mkdtemp's 0700: it becomes the shared environment)."""
    path = Path(folder)
    for _ in range(100):
        temp = path.with_name(f"{path.name}{TEMP_INFIX}{os.urandom(4).hex()}")
        try:
            temp.mkdir()
        except FileExistsError:
            continue
        return str(temp)
    raise UnpackError(f"cannot create a temporary folder next to {folder}")  # pragma: no cover


def drop_packed_state(folder: str, archive: str = "") -> None:
    """Remove the state folder the archive extracted into `folder` carries, if any: an
    archive packed from a used DIR holds that DIR's ``.poncho-run/`` (state files of another
    place, which only this run may write). Anything else under that name (a link, a file, a
    folder holding more than regular files, e.g. ``state.json`` as a folder) is refused
    with `UnsafeArchive`: it would stop the state being written, or published, later.

    Called on the extracted tree before DIR can show it (the shell front end checks the
    same before its link)."""
    import stat

    path = os.path.join(folder, _state.STATE_DIR)  # noqa: PTH118
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    odd = _state.STATE_DIR
    if stat.S_ISDIR(info.st_mode):
        with os.scandir(path) as entries:
            others = sorted(e.name for e in entries if not e.is_file(follow_symlinks=False))
        if not others:
            _log.info("%s: dropping the state folder packed in the archive", archive or folder)
            _discard(path)
            return
        odd = f"{_state.STATE_DIR}/{others[0]}"
    from poncho_run.errors import UnsafeArchive

    raise UnsafeArchive(
        odd, "poncho_package_run's state folder may hold only its state files", archive
    )


def _discard(path: str | os.PathLike[str]) -> None:
    """Remove a folder of ours, even a partly read-only one; errors are dropped (the caller
    is failing already, or cleaning up leftovers another run may be removing too)."""
    from poncho_core.fs import rmtree

    try:
        rmtree(path)
    except OSError as exc:
        _log.debug("cannot remove %s: %s", path, exc)

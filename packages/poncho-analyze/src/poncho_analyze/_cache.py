"""A cache of each environment's import -> distribution map, so that a second analysis
in the same environment reads no file lists.

Reading the file list of every installed distribution (``RECORD``, ``conda-meta``) costs
more than everything else an analysis does, and grows with the environment, not the
script.  The map is stored per environment (its prefix, search path and Python) with
the modification times of the search path's folders and of ``conda-meta``: installing,
upgrading or removing a package adds or renames an entry in one of them, so a changed
time means a stale map.  ``marshal`` holds only builtin types and loads fastest.

Where: ``$PONCHO_ANALYZE_CACHE`` (``off`` disables it), else
``$XDG_CACHE_HOME/poncho/analyze`` or ``~/.cache/poncho/analyze``.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poncho_analyze.mapping import Environment

__all__ = ["cache_dir", "load", "stamp", "store"]

log = logging.getLogger(__name__)

_FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off."""
    given = os.environ.get("PONCHO_ANALYZE_CACHE")
    if given is not None:
        return None if given.strip().lower() in ("", "off", "0", "no") else Path(given)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path("~/.cache").expanduser()
    return base / "poncho" / "analyze"


def _folders(env: Environment) -> list[str]:
    folders = [str(p) for p in env.paths]
    folders += [str(p / "conda-meta") for p in env.conda_prefixes()]
    return folders


def _stamp(env: Environment) -> list[tuple[str, int]]:
    out = []
    for folder in _folders(env):
        try:
            out.append((folder, Path(folder).stat().st_mtime_ns))
        except OSError:
            out.append((folder, -1))
    return out


def _file(folder: Path, env: Environment) -> Path:
    key = "\0".join([str(env.prefix), env.python_version, *map(str, env.paths)])
    return folder / f"env-{hashlib.sha256(key.encode()).hexdigest()[:32]}.marshal"


def load(env: Environment) -> dict[str, Any] | None:
    """The stored map of *env*, or None when there is none or it is stale."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = marshal.loads(_file(folder, env).read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return None
    if data.get("stamp") != _stamp(env):
        log.info("the cached map of %s is stale", env.prefix)
        return None
    log.info("using the cached map of %s", env.prefix)
    return data


def store(env: Environment, data: dict[str, Any], stamp: list[tuple[str, int]]) -> None:
    """Store *data* for *env* with the *stamp* taken before it was read (so a change made
    while reading makes it stale); failures are logged, never raised."""
    folder = cache_dir()
    if folder is None:
        return
    target = _file(folder, env)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        blob = marshal.dumps({**data, "format": _FORMAT, "stamp": stamp})
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, ValueError) as exc:
        log.info("cannot store the map in %s: %s", folder, exc)


def stamp(env: Environment) -> list[tuple[str, int]]:
    """The modification times the map of *env* depends on (take them before reading)."""
    return _stamp(env)

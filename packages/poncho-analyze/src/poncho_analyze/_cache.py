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

import marshal
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_analyze._log import get_logger

if TYPE_CHECKING:
    from poncho_analyze.environments import Environment

__all__ = [
    "cache_dir",
    "load",
    "load_files",
    "load_interpreter",
    "stamp",
    "store",
    "store_files",
    "store_interpreter",
]

log = get_logger(__name__)

_FORMAT = 3  # 3: owners carry their direct reference


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off."""
    given = os.environ.get("PONCHO_ANALYZE_CACHE")
    if given is not None:
        return None if given.strip().lower() in ("", "off", "0", "no") else Path(given)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path("~/.cache").expanduser()
    return base / "poncho" / "analyze"


def _digest(key: str) -> str:
    """A short name for *key* (zlib is loaded anyway, hashlib is not; a collision only
    costs a reload: each file holds what it was made for and is checked against it)."""
    data = key.encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


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
    return folder / f"env-{_digest(key)}.marshal"


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
    try:
        blob = marshal.dumps({**data, "format": _FORMAT, "stamp": stamp})
    except ValueError as exc:
        log.info("cannot store the map of %s: %s", env.prefix, exc)
        return
    _write(folder, _file(folder, env), blob)


def load_files(env: Environment) -> dict[str, Any]:
    """What was learnt about single installed files of *env* (each entry validates
    itself: the caller keys it by path, size and modification time)."""
    folder = cache_dir()
    if folder is None:
        return {}
    try:
        data = marshal.loads(_file(folder, env).with_suffix(".files").read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def store_files(env: Environment, data: dict[str, Any]) -> None:
    """Store :func:`load_files`'s mapping again; failures are logged, never raised."""
    folder = cache_dir()
    if folder is None:
        return
    _write(folder, _file(folder, env).with_suffix(".files"), marshal.dumps(data))


def _write(folder: Path, target: Path, blob: bytes) -> None:
    from poncho_core.fs import atomic_write

    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(target, blob)
    except (OSError, ValueError) as exc:
        log.info("cannot store %s: %s", target, exc)


_INTERPRETER_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "PYTHONSAFEPATH",
    "PYTHONUSERBASE",
)


def _interpreter_stamp(exe: str, paths: list[str]) -> list[Any]:
    """What the answer of interpreter *exe* depends on: the file (and the one it links
    to), its environment's ``pyvenv.cfg``, the variables that change ``sys.path``, and
    the folders of ``sys.path`` (a new ``.pth`` file changes its folder's time)."""
    stamp: list[Any] = [os.path.realpath(exe)]
    exe_path = Path(exe)
    for path in (
        exe_path,
        Path(stamp[0]),
        exe_path.parent.parent / "pyvenv.cfg",
        *map(Path, paths),
    ):
        try:
            info = path.stat()
            stamp.append((str(path), info.st_mtime_ns, info.st_size))
        except OSError:
            stamp.append((str(path), -1, -1))
    stamp.extend(os.environ.get(v, "") for v in _INTERPRETER_VARIABLES)
    return stamp


def load_interpreter(exe: str) -> dict[str, Any] | None:
    """The stored answer of the interpreter *exe* (prefix, path, version...), if fresh."""
    folder = cache_dir()
    if folder is None:
        return None
    target = folder / f"python-{_digest(exe)}.marshal"
    try:
        data = marshal.loads(target.read_bytes())
        info, stamp = data["info"], data["stamp"]
        paths = [str(p) for p in info["path"]]
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None
    if stamp != _interpreter_stamp(exe, paths):
        return None
    return dict(info)


def store_interpreter(exe: str, info: dict[str, Any]) -> None:
    """Store the answer of the interpreter *exe*; failures are logged, never raised."""
    folder = cache_dir()
    if folder is None:
        return
    target = folder / f"python-{_digest(exe)}.marshal"
    try:
        paths = [str(p) for p in info["path"]]
        blob = marshal.dumps({"info": info, "stamp": _interpreter_stamp(exe, paths)})
    except (ValueError, KeyError, TypeError) as exc:
        log.info("cannot store what %s said: %s", exe, exc)
        return
    _write(folder, target, blob)


def stamp(env: Environment) -> list[tuple[str, int]]:
    """The modification times the map of *env* depends on (take them before reading)."""
    return _stamp(env)

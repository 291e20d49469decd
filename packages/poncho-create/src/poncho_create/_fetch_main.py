"""``python -E -s poncho/fetch.pyz PREFIX RUN_IN_ENV [--] COMMAND [ARGS...]``.

The ``__main__`` of the data fetcher a tarball carries (`poncho_create.fetcher`), run by
``bin/run_in_env`` with the environment's own interpreter. It fetches the data the spec of
PREFIX names into the node's data cache (`poncho_fetch.DataCache`: the default folder,
``$PONCHO_FETCH_CACHE``..., the locks poncho_package_run takes), holds every entry in use
with inheritable locks, records where the entries are in ``PREFIX/poncho/data.sh`` (so that
``run_in_env`` serves the next runs in sh, as poncho_package_run's front end does from its
state), then execs ``RUN_IN_ENV --poncho-data-held COMMAND ARGS`` with the variables set:
the command inherits the locks, and the cache never evicts an entry it uses.

Errors are one ``run_in_env: error:`` line and exit status 1 (75: another process held the
cache's lock past the deadline; 126: RUN_IN_ENV cannot be executed).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from poncho_spec import Spec

__all__ = ["HELD", "RECORD", "data_script", "load_data_spec", "main", "record"]

PROG = "run_in_env"
#: The first argument with which the fetcher hands the command back to run_in_env.
HELD = "--poncho-data-held"
#: Where the entries are recorded, relative to the prefix (sourced by run_in_env).
RECORD = "poncho/data.sh"
_SPEC = "poncho/spec.json"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[0-9a-f]+")

log = logging.getLogger(PROG)

Exec = Callable[[str, Sequence[str], Mapping[str, str]], NoReturn]


def load_data_spec(prefix: Path) -> Spec:
    """The git and http part of the spec of `prefix` (the rest was checked at create time,
    and needs what a worker may not have: packaging, rattler)."""
    from poncho_spec import InvalidSpec, Problem, Spec

    path = prefix / _SPEC
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InvalidSpec([Problem("", f"cannot read the spec: {reason}")], str(path)) from exc
    if not isinstance(data, dict):
        raise InvalidSpec([Problem("", "the spec is not a JSON object")], str(path))
    part = {key: data[key] for key in ("git", "http") if key in data}
    return Spec.from_dict(part, source=str(path))


def data_script(entries: Sequence[tuple[str, str, str]]) -> str | None:
    """The text of ``poncho/data.sh`` for `entries` (variable, cache key, path inside the
    entry): it defines ``_poncho_data_each``, which calls its argument with ``VAR KEY PATH``
    for each entry and stops at the first failure (the form of poncho_package_run's
    ``state.sh``). None if an entry cannot be written safely."""
    lines = [
        "# Where the data of this environment is in the node's data cache, written by",
        "# poncho/fetch.pyz and sourced by bin/run_in_env; do not edit.",
        "_poncho_data_each() {",
    ]
    for var, key, path in entries:
        parts = path.split("/")
        if not (_NAME.fullmatch(var) and _KEY.fullmatch(key)):
            return None
        if not path or "\0" in path or path.startswith("/") or ".." in parts:
            return None
        quoted = "'" + path.replace("'", "'\\''") + "'"
        lines.append(f'    "$1" {var} {key} {quoted} &&')
    lines += ["    :", "}", ""]
    return "\n".join(lines)


def record(prefix: Path, spec: Spec, root: Path, env: Mapping[str, str]) -> bool:
    """Write ``poncho/data.sh`` for the entries `env` points at (``<root>/entries/<key>/
    <path>``), if every cache key depends on the spec alone (http entries, git entries
    pinned to a full commit: poncho-create writes the commit a ref named). Returns whether
    it was written (not in a read-only prefix, nor when it already says so)."""
    from poncho_core.fs import atomic_write
    from poncho_fetch.git import is_full_sha

    if not env or not all(is_full_sha(source.ref) for source in spec.git.values()):
        return False
    entries = []
    for var, where in env.items():
        try:
            parts = Path(where).relative_to(root / "entries").parts
        except ValueError:  # not in the cache's entries/ folder
            return False
        if len(parts) < 2:
            return False
        entries.append((var, parts[0], "/".join(parts[1:])))
    text = data_script(entries)
    path = prefix / RECORD
    if text is None:
        return False
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, ValueError):
        pass
    try:
        atomic_write(path, text)
    except OSError as exc:  # a shared, read-only environment: every run comes here
        log.debug("cannot record the data in %s: %s", path, exc)
        return False
    return True


def _execve(path: str, argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    os.execve(path, list(argv), dict(env))


def main(argv: Sequence[str] | None = None, execve: Exec = _execve) -> int:
    """Fetch and hold the data of PREFIX, then exec RUN_IN_ENV with the command (`execve`
    replaces this process)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _logging()
    if len(args) >= 3 and args[2] == "--":
        del args[2]
    if len(args) < 3:
        sys.stderr.write(f"usage: {PROG} fetcher: PREFIX RUN_IN_ENV [--] COMMAND [ARGS...]\n")
        return 2
    prefix, script, command = Path(args[0]), args[1], args[2:]

    from poncho_core.errors import LockTimeout, PonchoError
    from poncho_fetch import DataCache

    try:
        spec = load_data_spec(prefix)
        cache = DataCache()
        lease = cache.acquire(spec, inheritable=True)
    except LockTimeout as exc:
        return _error(exc, 75)
    except PonchoError as exc:
        return _error(exc, 1)
    except OSError as exc:  # the cache folder cannot be made (a full disk, no permission)
        return _error(f"data cache: {exc.strerror or exc}", 1)
    except KeyboardInterrupt:
        return 130
    record(prefix, spec, cache.root, lease.env)
    env = dict(os.environ)
    env.update(lease.env)
    try:
        execve(script, [script, HELD, *command], env)
    except OSError as exc:
        lease.release()
        return _error(f"cannot run {script}: {exc.strerror or exc}", 126)


def _logging() -> None:
    """Warnings (a retried download) on stderr as ``run_in_env: ...``; with
    ``$PONCHO_VERBOSITY`` >= 1, what is fetched too."""
    try:
        verbosity = int(os.environ.get("PONCHO_VERBOSITY", "0") or 0)
    except ValueError:
        verbosity = 0
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbosity >= 1 else logging.WARNING)


def _error(message: object, status: int) -> int:
    for line in str(message).splitlines() or [""]:
        sys.stderr.write(f"{PROG}: error: {line}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())

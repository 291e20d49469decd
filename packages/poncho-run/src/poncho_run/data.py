"""The data a packed environment's spec names (``poncho/spec.json``: git and http entries).

Fetching is poncho-fetch's job (`poncho_fetch.DataCache`); this module finds the spec inside
the prefix and holds the cache's "in use" locks while the command runs. When poncho-run
replaces itself with the command (``exec``), the lock descriptors are inherited by it, so
that the protection from eviction lasts as long as the command, not as long as poncho-run.
poncho-spec and poncho-fetch are imported only when an environment has data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from poncho_run.errors import RunError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from poncho_spec import Spec

__all__ = ["SPEC_PATH", "data_environ", "spec_has_data"]

#: Where a tarball made by poncho_package_create keeps its spec, relative to the prefix.
SPEC_PATH = "poncho/spec.json"


def spec_has_data(prefix: str) -> bool:
    """Whether the environment at `prefix` has a spec naming git or http data.

    Only the spec's ``git`` and ``http`` keys are read first (its conda and pip sections,
    which a run does not use, are not validated: that cost a cold run ~0.2 s where
    py-rattler is installed); a spec naming data is then loaded whole and checked. Raises
    `RunError` if the spec is not a JSON object, or names data and is invalid.
    """
    path = Path(prefix, SPEC_PATH)
    if not path.is_file() or not _names_data(path):
        return False
    try:
        import poncho_spec  # noqa: F401
    except ImportError:  # the engine of a copied poncho_package_run: the keys are all it reads
        return True
    spec = _load(path)
    return bool(spec.git or spec.http)


def _names_data(path: Path) -> bool:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunError(f"the environment's spec is not valid: {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise RunError(f"the environment's spec is not valid: {path}: not a JSON object")
    return any(data.get(key) for key in ("git", "http"))


@contextmanager
def data_environ(
    prefix: str, cache_dir: str | None = None, *, inheritable: bool = False, record: bool = False
) -> Iterator[dict[str, str]]:
    """Fetch the data the spec of `prefix` names and yield ``{VAR: path}``, holding the
    cache's in-use locks until the block ends (with `inheritable`, also in a program this
    process ``exec``s). Yields {} for an environment without data.

    With `record`, where each entry sits in the cache is written into the state of
    `prefix` (a ready unpack folder), so that the shell front end serves the next runs
    itself (`poncho_run._state.record_data`)."""
    if not spec_has_data(prefix):
        yield {}
        return
    try:
        from poncho_fetch import DataCache
    except ImportError as exc:
        raise RunError(
            f"{prefix}: its spec names data (git/http) to fetch, and poncho-fetch is not "
            "installed with this Python: pip install poncho-run, or run with --no-data"
        ) from exc
    spec = _load(Path(prefix, SPEC_PATH))
    relative = {var: g.remote for var, g in spec.git.items() if g.is_relative_path}
    if relative:
        # Never resolved here: against the task's folder it would name another repository.
        var, remote = next(iter(relative.items()))
        raise RunError(
            f"{Path(prefix, SPEC_PATH)}: git.{var}: the remote {remote!r} is a relative path, "
            "which only the folder of the spec it was built from gives a meaning to (older "
            "poncho_package_create kept it so): build the environment again (create now "
            "stores it resolved), or give an absolute path or URL"
        )
    cache = DataCache(cache_dir)
    with cache.using(spec, inheritable=inheritable) as env:
        if record:
            _record(prefix, spec, str(cache.root), env)
        yield dict(env)


def _record(prefix: str, spec: Spec, root: str, env: Mapping[str, str]) -> None:
    """Record in the state of `prefix` the cache key and inner path of each entry `env`
    points at (``<root>/entries/<key>/<path>``), if every key depends on the spec alone:
    http entries, and git entries pinned to a full commit (a branch or tag is resolved
    again at each run, which only the engine does)."""
    from poncho_fetch.git import is_full_sha
    from poncho_run import _state

    if not env or not all(is_full_sha(source.ref) for source in spec.git.values()):
        return
    entries = Path(root, "entries")
    recorded = []
    for var, path in env.items():
        try:
            parts = Path(path).relative_to(entries).parts
        except ValueError:  # not in the cache's entries/ folder
            return
        if len(parts) < 2:
            return
        recorded.append({"var": var, "key": parts[0], "path": "/".join(parts[1:])})
    _state.record_data(prefix, recorded)


def _load(path: Path) -> Spec:
    from poncho_spec import PonchoError, load_spec

    try:
        return load_spec(path)
    except (PonchoError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # The spec comes from the archive: whatever its loader raises for it (PonchoError,
        # and from older poncho-spec versions ValueError for a URL urllib cannot parse or
        # an integer of more than 4,300 digits, RecursionError for deep nesting) is bad input.
        if isinstance(exc, PonchoError):
            reason = str(exc)  # names the file
        elif isinstance(exc, RecursionError):
            reason = f"{path}: nested too deeply"
        else:
            reason = f"{path}: {exc}"
        raise RunError(f"the environment's spec is not valid: {_line(reason)}") from exc
    except OSError as exc:
        raise RunError(f"cannot read the environment's spec {path}: {exc.strerror or exc}") from exc


def _line(text: str, limit: int = 500) -> str:
    """`text` on one line, at most `limit` characters (it ends up in a one-line error)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""`PonchoEnvironment`: a Dask worker plugin that prepares an environment on every worker.

The plugin travels from the client to the scheduler and to every worker, present and
future; on each worker `setup` unpacks the tarball into a node-local folder through
`poncho_run.prepare`, whose lock (the one ``poncho_package_run -d`` takes) makes the
workers of one node share a single unpacked copy. Tasks then find the prepared environment
with `get_environment` (by the environment's name, among the worker's plugins).

The unpack folder is ``<unpack_root>/<stem>-<digest>``: `unpack_root` is given, or
``$PONCHO_DASK_DIR``, or ``<tempdir>/poncho-dask-<uid>``, read on the worker (it must be
node-local); the digest covers the tarball's location and, for a file, its size and
modification time, so that a rebuilt tarball gets a new folder. A URL is fetched through
poncho-fetch's cache first (only when its folder is not ready yet); pin its content with
`sha256`, or change the URL, to change the environment.
"""

# Paths are str here: they travel pickled between client and workers, and go to subprocess.
# ruff: noqa: PTH100, PTH103, PTH111, PTH112, PTH116, PTH118, PTH119, PTH120

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin

from poncho_dask.errors import EnvironmentNotRegistered
from poncho_run import DEFAULT_WAIT, EnvironmentNotFound, RunError

if TYPE_CHECKING:
    from distributed import Worker

    from poncho_run import PreparedEnvironment

__all__ = [
    "DIR_ENV",
    "PLUGIN_PREFIX",
    "PonchoEnvironment",
    "default_unpack_root",
    "get_environment",
    "resolve",
]

#: Environment variable (read on the worker) naming the default unpack root.
DIR_ENV = "PONCHO_DASK_DIR"
#: Prefix of the plugins' names among a worker's plugins.
PLUGIN_PREFIX = "poncho:"
_HTTP_VAR = "PONCHO_ENV"
_ARCHIVE_SUFFIX = re.compile(r"(\.tar(\.[a-z0-9]+)?|\.t[gbx]z|\.tbz2|\.tzst|\.zip)$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_log = logging.getLogger(__name__)


def default_unpack_root() -> str:
    """``$PONCHO_DASK_DIR``, else ``<tempdir>/poncho-dask-<uid>`` (on this host)."""
    explicit = os.environ.get(DIR_ENV)
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    return os.path.join(tempfile.gettempdir(), f"poncho-dask-{os.getuid()}")


class PonchoEnvironment(WorkerPlugin):
    """A Poncho environment prepared once per node on every worker of a Dask cluster.

    `tarball` is a path every worker can read (a tarball made by ``poncho_package_create``
    or conda-pack, or an unpacked environment folder, used in place), or an ``http(s)://``
    URL fetched through poncho-fetch's node-local cache (`fetch_cache`, default its own
    default; `sha256` checks the download). `name` is how tasks refer to it (default: the
    file name's stem plus a digest of the location). `unpack_root` is the node-local folder
    that holds unpacked environments (default ``$PONCHO_DASK_DIR``, else
    ``<tempdir>/poncho-dask-<uid>``, as seen by each worker); `wait` is how long a worker
    waits for another one unpacking the same environment (default
    `poncho_run.DEFAULT_WAIT`, as ``poncho_package_run -w``).

    Register it with ``client.register_plugin(env)``; then run work inside it with
    ``client.submit(run_command, argv, env=env)`` or
    ``client.submit(run_function, func, *args, env=env)``.
    """

    idempotent = False

    def __init__(
        self,
        tarball: str | os.PathLike[str],
        name: str | None = None,
        *,
        unpack_root: str | os.PathLike[str] | None = None,
        wait: float = DEFAULT_WAIT,
        sha256: str | None = None,
        fetch_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        location = os.fspath(tarball)
        self.is_url = location.startswith(("http://", "https://"))
        if location.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            location = unquote(urlsplit(location).path)
        elif "://" in location and not self.is_url:
            raise ValueError(f"{location}: only http(s):// and file:// URLs are supported")
        if not self.is_url:
            if sha256 is not None:
                raise ValueError("sha256 checks a download: give it with an http(s) URL only")
            # Relative to the client's folder: the workers' may differ.
            location = os.path.abspath(os.path.expanduser(location))
        else:
            _http_spec(location, sha256)  # checks the URL and sha256 now, on the client
        if name is not None and (not name or not isinstance(name, str)):
            raise ValueError("name must be a non-empty string")
        if wait < 0:
            raise ValueError("wait must be >= 0")
        self.location = location
        self.sha256 = sha256.lower() if sha256 else None
        self.env_name = name if name is not None else _default_name(location)
        #: The plugin's name among the worker's plugins (``poncho:<env_name>``).
        self.name = PLUGIN_PREFIX + self.env_name
        self.unpack_root = None if unpack_root is None else os.fspath(unpack_root)
        self.wait = float(wait)
        self.fetch_cache = None if fetch_cache is None else os.fspath(fetch_cache)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._prepared: PreparedEnvironment | None = None
        #: Seconds the last successful preparation took on this worker (None before).
        self.prepare_seconds: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        keep = ("is_url", "location", "sha256", "env_name", "name", "unpack_root", "wait")
        state = {key: self.__dict__[key] for key in keep}
        state["fetch_cache"] = self.fetch_cache
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """What Dask hashes into the keys of tasks that take this object as an argument."""
        state = self.__getstate__()
        return (type(self).__name__, *(state[key] for key in sorted(state)))

    def __repr__(self) -> str:
        return f"PonchoEnvironment({self.location!r}, name={self.env_name!r})"

    # -- the worker side ---------------------------------------------------------------

    async def setup(self, worker: Worker) -> None:
        """Prepare the environment on `worker` (in a thread: the worker's event loop keeps
        answering while another worker of the node unpacks)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.prepared)

    def teardown(self, worker: Worker) -> None:
        """Forget the prepared environment (its folder stays: other workers share it)."""
        with self._lock:
            self._prepared = None

    def prepared(self) -> PreparedEnvironment:
        """The environment, prepared in this process on first use (thread-safe)."""
        with self._lock:
            if self._prepared is None:
                start = time.monotonic()
                self._prepared = self._prepare()
                self.prepare_seconds = time.monotonic() - start
                _log.info(
                    "environment %r ready at %s (%.2f s)",
                    self.env_name,
                    self._prepared.prefix,
                    self.prepare_seconds,
                )
            return self._prepared

    def unpack_dir(self) -> str:
        """The folder this environment is unpacked into on this host."""
        root = self.unpack_root
        root = default_unpack_root() if root is None else os.path.abspath(os.path.expanduser(root))
        if self.is_url:
            identity: list[Any] = ["url", self.location, self.sha256]
        else:
            try:
                st = os.stat(self.location)
            except FileNotFoundError:
                raise EnvironmentNotFound(self._missing()) from None
            except OSError as exc:
                raise RunError(f"{self.location}: cannot read it: {exc.strerror or exc}") from exc
            identity = ["file", self.location, st.st_size, st.st_mtime_ns]
        digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]
        return os.path.join(root, f"{_stem(self.location)}-{digest}")

    def _prepare(self) -> PreparedEnvironment:
        from poncho_run import open_ready, prepare

        if not self.is_url and os.path.isdir(self.location):
            return prepare(self.location, wait=self.wait)
        folder = self.unpack_dir()
        _make_root(os.path.dirname(folder), explicit=self.unpack_root is not None)
        if not self.is_url:
            return prepare(self.location, unpack_to=folder, wait=self.wait)
        ready = open_ready(folder)
        if ready is not None:
            return ready
        from poncho_fetch import DataCache

        spec = _http_spec(self.location, self.sha256)
        with DataCache(self.fetch_cache).using(spec) as paths:
            return prepare(paths[_HTTP_VAR], unpack_to=folder, wait=self.wait)

    def _missing(self) -> str:
        import socket

        return (
            f"{self.location}: no such environment on host {socket.gethostname()} (the "
            "tarball must be on a file system every worker can read, or given as a URL)"
        )


def get_environment(env: str | PonchoEnvironment | None = None) -> PreparedEnvironment:
    """The prepared environment `env` for the task running now.

    On a Dask worker `env` names a registered `PonchoEnvironment` (its name, or the object
    itself); None picks the only one registered. A `PonchoEnvironment` that is not registered
    there (or when called outside a worker) is prepared in this process on first use.
    Raises `EnvironmentNotRegistered` when the name matches none.
    """
    return resolve(env)[1]


def resolve(env: str | PonchoEnvironment | None) -> tuple[str, PreparedEnvironment]:
    """`get_environment`, with the environment's name."""
    worker = _current_worker()
    if worker is not None:
        registered = {
            plugin.env_name: plugin
            for plugin in worker.plugins.values()
            if isinstance(plugin, PonchoEnvironment)
        }
        plugin = _pick(registered, env, str(worker.address))
        if plugin is not None:
            return plugin.env_name, plugin.prepared()
    if isinstance(env, PonchoEnvironment):
        return env.env_name, env.prepared()
    raise EnvironmentNotRegistered(
        "not on a Dask worker: submit the task with client.submit(...), or pass the "
        "PonchoEnvironment itself as env= to prepare it here"
    )


def _pick(
    registered: dict[str, PonchoEnvironment], env: str | PonchoEnvironment | None, worker: str
) -> PonchoEnvironment | None:
    if env is None:
        if len(registered) == 1:
            return next(iter(registered.values()))
        if not registered:
            raise EnvironmentNotRegistered(
                f"no Poncho environment is registered on worker {worker}: "
                "client.register_plugin(PonchoEnvironment(...)) first"
            )
        raise EnvironmentNotRegistered(
            f"several Poncho environments are registered on worker {worker} "
            f"({', '.join(sorted(registered))}): say which with env="
        )
    if isinstance(env, PonchoEnvironment):
        plugin = registered.get(env.env_name)
        # The same name may have been registered again for another tarball since.
        if plugin is not None and plugin.location == env.location:
            return plugin
        return None
    plugin = registered.get(env)
    if plugin is None:
        known = ", ".join(sorted(registered)) or "none"
        raise EnvironmentNotRegistered(
            f"no Poncho environment named {env!r} is registered on worker {worker} "
            f"(registered: {known})"
        )
    return plugin


def _current_worker() -> Worker | None:
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:
        return None


def _make_root(root: str, *, explicit: bool) -> None:
    """Create the unpack root; the default one (in a shared temporary folder) must be ours."""
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the unpack folder {root}: {exc.strerror or exc}") from exc
    if not explicit and os.environ.get(DIR_ENV) is None:
        owner = os.stat(root).st_uid
        if owner != os.getuid():
            raise RunError(
                f"{root} belongs to another user (uid {owner}): set ${DIR_ENV} or "
                "unpack_root to a folder of yours"
            )


def _http_spec(url: str, sha256: str | None) -> Any:
    from poncho_spec import Spec

    entry: dict[str, Any] = {"url": url, "type": "file"}
    if sha256:
        entry["sha256"] = sha256.lower()
    return Spec.from_dict({"http": {_HTTP_VAR: entry}}, source=url)


def _stem(location: str) -> str:
    if "://" in location:
        from urllib.parse import urlsplit

        location = urlsplit(location).path
    base = os.path.basename(location.rstrip("/")) or "env"
    base = _ARCHIVE_SUFFIX.sub("", base)
    return _UNSAFE.sub("_", base)[:40].strip("._-") or "env"


def _default_name(location: str) -> str:
    return f"{_stem(location)}-{hashlib.sha256(location.encode()).hexdigest()[:8]}"

"""The Python API: prepare an environment in a folder, then run commands in it.

For engines that schedule tasks themselves::

    env = prepare("env.tar.gz", unpack_to="/scratch/envA", wait=300)
    subprocess.run(env.command(["python", "task.py"]), env=env.environ())

`prepare` takes the same lock as the command line, so engines and ``poncho_package_run``
can share one folder. `run` is the whole of ``poncho_package_run`` as a function.

Only what a warm run needs is imported with this module; unpacking, data and temporary
folders import their modules when used.
"""

# Paths are str here: on the warm path, where pathlib (which imports re) would cost more than
# the whole run.
# ruff: noqa: PTH100, PTH110, PTH112, PTH113, PTH118

from __future__ import annotations

import os

from poncho_run import _state
from poncho_run.activate import apply_activation
from poncho_run.process import SignalRelay, Terminated, exec_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path
    from types import TracebackType
    from typing import Any, NoReturn

__all__ = ["DEFAULT_WAIT", "PreparedEnvironment", "open_ready", "prepare", "run"]

#: Seconds to wait for another run unpacking the same folder (``-w``).
DEFAULT_WAIT = 300.0


class PreparedEnvironment:
    """An unpacked, relocated environment, ready to run commands in.

    `environ` gives the activated environment variables, `command` the argument list to
    run; `exec` and `run` do both. A temporary environment (``prepare`` without
    ``unpack_to``) belongs to the caller: `cleanup` (or leaving a ``with`` block) removes it.
    """

    def __init__(self, prefix: str, state: Mapping[str, Any], *, temporary: bool = False) -> None:
        self._prefix = os.path.abspath(prefix)
        self._state = state
        self.temporary = temporary

    def __repr__(self) -> str:
        return f"PreparedEnvironment({self._prefix!r}, temporary={self.temporary})"

    @property
    def prefix(self) -> Path:
        """The environment's folder."""
        from pathlib import Path

        return Path(self._prefix)

    @property
    def state(self) -> Mapping[str, Any]:
        """The state stored with the environment (activation, origin; read-only)."""
        return self._state

    @property
    def has_data(self) -> bool:
        """Whether the environment's spec names git or http data to fetch."""
        return bool(self._state.get("data"))

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: ``os.environ``) as ``conda activate`` of this environment would
        leave it, activate.d scripts included. Data variables are not included (see `data`)."""
        activation = self._state.get("activation") or {}
        return apply_activation(self._prefix, activation, os.environ if base is None else base)

    def command(self, argv: Sequence[str]) -> list[str]:
        """The argument list that runs `argv` in this environment: a ``.py`` file that is
        not executable is run with the environment's python; anything else is unchanged
        (looked up on the activated PATH)."""
        if not argv:
            raise ValueError("empty command")
        first = argv[0]
        if first.endswith(".py") and os.path.isfile(first) and not os.access(first, os.X_OK):
            python = os.path.join(self._prefix, "bin", "python")
            return [python if os.path.exists(python) else "python", *argv]
        return list(argv)

    def data(
        self, cache_dir: str | os.PathLike[str] | None = None, *, inheritable: bool = False
    ) -> AbstractContextManager[dict[str, str]]:
        """Fetch the data the environment's spec names (poncho-fetch, `cache_dir` or its
        default cache) and yield ``{VAR: path}``; the cache keeps it while the block runs
        (with `inheritable`, also in a program this process ``exec``s)."""
        from poncho_run.data import data_environ

        folder = None if cache_dir is None else os.fspath(cache_dir)
        # A kept folder remembers where its data is, for the shell front end's warm runs.
        record = not self.temporary
        return data_environ(self._prefix, folder, inheritable=inheritable, record=record)

    def exec(
        self,
        argv: Sequence[str],
        *,
        data: bool = True,
        data_cache: str | os.PathLike[str] | None = None,
        base: Mapping[str, str] | None = None,
    ) -> NoReturn:
        """Replace this process with `argv` run in the environment, after fetching its data
        unless `data` is false (the data cache's in-use locks pass to the command).

        Raises `CommandNotFound` or `CommandNotExecutable` if `argv` cannot be run."""
        env = self.environ(base)
        if not (data and self.has_data):
            exec_command(self.command(argv), env)
        with self.data(data_cache, inheritable=True) as data_env:
            env.update(data_env)
            exec_command(self.command(argv), env)

    def run(
        self,
        argv: Sequence[str],
        *,
        data: bool = True,
        data_cache: str | os.PathLike[str] | None = None,
        base: Mapping[str, str] | None = None,
        relay: SignalRelay | None = None,
    ) -> int:
        """Run `argv` in the environment as a child process and return its exit status
        (``128 + N`` for death by signal N). SIGINT/SIGTERM/SIGHUP are passed on to it."""
        from contextlib import ExitStack

        with ExitStack() as stack:
            if relay is None:
                relay = stack.enter_context(SignalRelay())
            env = self.environ(base)
            if data and self.has_data:
                env.update(stack.enter_context(self.data(data_cache)))
            return relay.run(self.command(argv), env)

    def cleanup(self) -> None:
        """Remove the environment's folder if it is temporary (else do nothing)."""
        if self.temporary:
            _remove_tree(self._prefix)

    def __enter__(self) -> PreparedEnvironment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


def open_ready(folder: str | os.PathLike[str]) -> PreparedEnvironment | None:
    """The environment in `folder` if it is ready (unpacked and prepared), else None.

    Takes no lock and reads only the state file: this is the warm path.
    """
    path = _state.folder_path(folder)
    state = _state.read_state(path)
    return None if state is None else PreparedEnvironment(path, state)


def prepare(
    env: str | os.PathLike[str] | None,
    unpack_to: str | os.PathLike[str] | None = None,
    wait: float = DEFAULT_WAIT,
    *,
    use_programs: bool = True,
    store: bool | str | os.PathLike[str] = True,
) -> PreparedEnvironment:
    """Make the environment `env` ready to run commands in, and return it.

    `env` is a tarball (made by poncho_package_create or conda-pack) or an unpacked
    environment folder, which is used in place. A tarball is unpacked into `unpack_to`
    (shared, kept, locked: see `poncho_run.unpack`; when it is already full, `env` is not
    even read and may be None) or, without it, into a new temporary folder the caller
    must remove (`PreparedEnvironment.cleanup`). `wait` is how long to wait for another
    process unpacking the same folder before raising `LockTimeout`.

    `store` is the node store the unpacked files are shared through (hard links to
    read-only files: `poncho_run.store`): True, the default, is ``$PONCHO_RUN_STORE``
    (``off``: none) or else ``.poncho-store-<uid>`` beside `unpack_to` (a temporary
    folder has none by default); False, none (``--no-store``); a path, that store.
    """
    from poncho_run.errors import EnvironmentNotFound, RunError
    from poncho_run.unpack import ensure_ready

    source = None if env is None else os.fspath(env)
    if source is not None and os.path.isdir(source):
        if unpack_to is not None:
            import logging

            logging.getLogger(__name__).warning(
                "%s is a folder: using it in place, not unpacking it to %s",
                source,
                os.fspath(unpack_to),
            )
        return PreparedEnvironment(source, ensure_ready(None, source, wait), temporary=False)
    if unpack_to is not None:
        folder = _state.folder_path(unpack_to)
        return PreparedEnvironment(
            folder,
            ensure_ready(
                source, folder, wait, use_programs=use_programs, require_env=True, store=store
            ),
        )
    if source is None:
        raise RunError("give an environment (tarball or folder), a folder to unpack to, or both")
    if not os.path.exists(source):
        raise EnvironmentNotFound(f"{source}: no such environment file or folder")
    return _prepare_temporary(source, use_programs, store)


def _prepare_temporary(
    source: str, use_programs: bool, store: bool | str | os.PathLike[str] = True
) -> PreparedEnvironment:
    import tempfile

    from poncho_run.unpack import unpack_into

    folder = tempfile.mkdtemp(prefix="poncho-run-")
    try:
        state = unpack_into(source, folder, use_programs=use_programs, store=store)
    except BaseException:
        _remove_tree(folder)
        raise
    return PreparedEnvironment(folder, state, temporary=True)


def run(
    env: str | os.PathLike[str] | None,
    command: Sequence[str],
    *,
    unpack_to: str | os.PathLike[str] | None = None,
    wait: float = DEFAULT_WAIT,
    data: bool = True,
    data_cache: str | os.PathLike[str] | None = None,
    base: Mapping[str, str] | None = None,
    store: bool | str | os.PathLike[str] = True,
) -> int:
    """Prepare `env` (as `prepare`, `store` included), run `command` in it as a child
    process and return its exit status; a temporary folder is removed afterwards, also
    when the command fails or a SIGINT/SIGTERM/SIGHUP arrives (which is passed on to the
    command; if it arrives before the command started, the status is ``128 + signal``)."""
    with SignalRelay() as relay:
        try:
            prepared = prepare(env, unpack_to, wait, store=store)
            try:
                return prepared.run(
                    command, data=data, data_cache=data_cache, base=base, relay=relay
                )
            finally:
                relay.hold()
                prepared.cleanup()
        except Terminated as exc:
            return 128 + exc.signum


def _remove_tree(path: str) -> None:
    from poncho_core.fs import rmtree

    rmtree(path)  # a read-only folder the command made is opened and emptied too

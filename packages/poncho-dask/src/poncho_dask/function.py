"""`run_function`: a task that calls a Python function with the environment's interpreter.

The worker pickles ``(function, args, kwargs)`` into a temporary file and starts
``<prefix>/bin/python -c <bootstrap>``, which loads them, calls the function and pickles
the result (or the exception's type, message and traceback text) into another file that the
worker loads. Nothing of Dask is needed inside the environment. Functions that the
environment can import travel by reference (plain pickle); others (lambdas, closures,
functions of a script or notebook) travel by value, which needs cloudpickle inside the
environment too: without it, `EnvironmentIncomplete` says so before anything runs. A
function can also be named ``"module:function"``, so that only the environment has to be
able to import it. The source of the functions sent by value goes along (`_sources`), so
that a traceback made in the environment shows their lines.

Each worker process asks an environment's interpreter once what it offers (Python version,
pickle protocol, cloudpickle) and remembers the answer.
"""

# Paths are str here: they travel pickled between client and workers, and go to subprocess.
# ruff: noqa: PTH113, PTH118

from __future__ import annotations

import ast
import os
import pickle
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from poncho_dask._bootstrap import BOOTSTRAP, PROBE
from poncho_dask.command import activated_environ
from poncho_dask.errors import EnvironmentIncomplete, RemoteError
from poncho_dask.plugin import PonchoEnvironment, resolve

if TYPE_CHECKING:
    from poncho_run import PreparedEnvironment

__all__ = ["EnvPython", "probe_python", "run_function"]

_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_PROBE_TIMEOUT = 120.0


@dataclass(frozen=True)
class EnvPython:
    """What an environment's interpreter offers: its path, version, highest pickle
    protocol, and whether it can import cloudpickle."""

    python: str
    version: tuple[int, ...]
    protocol: int
    cloudpickle: bool


_probed: dict[str, EnvPython] = {}
_probe_lock = threading.Lock()


def probe_python(prepared: PreparedEnvironment, name: str) -> EnvPython:
    """Ask the interpreter of `prepared` what it offers (once per process and prefix).

    Raises `EnvironmentIncomplete` when the environment has no python, or one that fails.
    """
    prefix = str(prepared.prefix)
    with _probe_lock:
        known = _probed.get(prefix)
        if known is not None:
            return known
        python = os.path.join(prefix, "bin", "python")
        if not os.path.isfile(python):
            raise EnvironmentIncomplete(
                f"environment {name!r} has no python ({python} does not exist), which "
                "run_function needs: add python to the spec's conda dependencies "
                "(run_command works without it)"
            )
        try:
            done = subprocess.run(
                [python, "-c", PROBE],
                env=prepared.environ(os.environ),
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
            )
            if done.returncode != 0:
                raise OSError(
                    f"exit status {done.returncode}: {done.stderr.decode(errors='replace').strip()}"
                )
            version, protocol, has_cloudpickle = ast.literal_eval(done.stdout.decode())
        except (OSError, ValueError, SyntaxError, subprocess.SubprocessError) as exc:
            raise EnvironmentIncomplete(
                f"environment {name!r}: its python ({python}) does not work: {exc}"
            ) from exc
        found = EnvPython(python, tuple(version), int(protocol), bool(has_cloudpickle))
        _probed[prefix] = found
        return found


def run_function(
    func: Callable[..., Any] | str,
    /,
    *args: Any,
    env: str | PonchoEnvironment | None = None,
    **kwargs: Any,
) -> Any:
    """Call ``func(*args, **kwargs)`` with the Python of the Poncho environment `env` and
    return its result.

    Meant to run on a Dask worker: ``client.submit(run_function, func, 1, 2, env=env,
    pure=False)``. `func` is a function (pickled by reference when the worker can import
    it, else by value with cloudpickle, which the environment must then have too) or the
    name ``"module:function"`` of one the environment can import. Arguments and result are
    pickled across; the result is loaded on the worker, so it should be made of types the
    worker has (plain Python data is safest). The spec's data variables are set, as for
    `run_command`. What the function prints goes to the worker's stdout and stderr.

    Raises `RemoteError` (exception type, message and traceback text from the environment)
    when the function fails there, `EnvironmentIncomplete` when the environment lacks what
    the call needs (python; cloudpickle for functions that travel by value).
    """
    name, prepared = resolve(env)
    python = probe_python(prepared, name)
    label = _describe(func)
    if isinstance(func, str):
        if not _REFERENCE.fullmatch(func):
            raise ValueError(f"a function given by name is 'module:function', got {func!r}")
        payload: tuple[Any, ...] = ("ref", func, args, kwargs)
    else:
        payload = ("obj", func, args, kwargs)
    protocol = min(pickle.HIGHEST_PROTOCOL, python.protocol)
    data = _dumps(payload, protocol, python, name, label)
    with tempfile.TemporaryDirectory(prefix="poncho-dask-call-") as work:
        in_path = os.path.join(work, "call.pickle")
        out_path = os.path.join(work, "result.pickle")
        with open(in_path, "wb") as file:
            file.write(data)
        with activated_environ(prepared) as variables:
            done = subprocess.run(
                [python.python, "-c", BOOTSTRAP, in_path, out_path, str(protocol)],
                env=variables,
                capture_output=True,
                check=False,
            )
        _forward(done.stdout, done.stderr)
        try:
            with open(out_path, "rb") as file:
                answer = pickle.load(file)
        except FileNotFoundError:
            raise RemoteError(
                name,
                label,
                "start",
                "",
                f"its python exited with status {done.returncode} before answering",
                done.stderr.decode(errors="replace"),
            ) from None
    if answer[0] == "ok":
        try:
            return pickle.loads(answer[1])
        except Exception as exc:
            raise RemoteError(
                name,
                label,
                "return",
                type(exc).__qualname__,
                str(exc),
                "",
                "the result was made in the environment but cannot be loaded on the worker "
                "(a type the worker's Python does not have?): return plain Python data",
            ) from None
    _, stage, exc_type, message, text = answer
    raise RemoteError(name, label, stage, exc_type, message, text, _hint(stage, exc_type, python))


def _dumps(
    payload: tuple[Any, ...], protocol: int, python: EnvPython, name: str, label: str
) -> bytes:
    if python.cloudpickle:
        from poncho_dask._sources import dumps_with_sources

        return dumps_with_sources(payload, protocol)
    try:
        # No function travels by value: no sources to send along.
        return pickle.dumps({}, protocol) + pickle.dumps(payload, protocol)
    except Exception as exc:  # PicklingError, or AttributeError/TypeError for local objects
        raise EnvironmentIncomplete(
            f"environment {name!r} has no cloudpickle, which calling {label} there needs "
            f"(it cannot be pickled by reference: {exc}): add cloudpickle to the "
            "environment's spec (its pip or conda list), or pass a function the environment "
            "can import, by name: run_function('module:function', ...)"
        ) from None


def _hint(stage: str, exc_type: str, python: EnvPython) -> str:
    if stage != "load":
        return ""
    hints = []
    if exc_type in ("ModuleNotFoundError", "ImportError", "AttributeError"):
        hints.append(
            "what the worker can import travels by reference, so the environment must be "
            "able to import it too; cloudpickle.register_pickle_by_value(module) on the "
            "client sends a module's functions by value instead (with cloudpickle in the "
            "environment)"
        )
    if python.cloudpickle and python.version[:2] != sys.version_info[:2]:
        env_version = ".".join(map(str, python.version[:2]))
        worker_version = ".".join(map(str, sys.version_info[:2]))
        hints.append(
            f"the worker runs Python {worker_version} and the environment {env_version}: "
            "functions sent by value (cloudpickle) need the same version; name a function "
            "the environment can import instead ('module:function')"
        )
    return "; ".join(hints)


def _describe(func: Callable[..., Any] | str) -> str:
    if isinstance(func, str):
        return repr(func)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if qualname is None:
        return repr(func)
    return f"{module}.{qualname}" if module else qualname


def _forward(stdout: bytes, stderr: bytes) -> None:
    if stdout:
        sys.stdout.write(stdout.decode(errors="replace"))
        sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr.decode(errors="replace"))
        sys.stderr.flush()

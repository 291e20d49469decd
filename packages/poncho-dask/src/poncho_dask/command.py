"""`run_command`: a task that runs a command line inside a prepared Poncho environment."""

# Paths are str here: they travel pickled between client and workers, and go to subprocess.
# ruff: noqa: PTH112

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from poncho_dask.errors import CommandFailed
from poncho_dask.plugin import PonchoEnvironment, resolve
from poncho_run import CommandNotExecutable, CommandNotFound

if TYPE_CHECKING:
    from poncho_run import PreparedEnvironment

__all__ = ["CompletedCommand", "activated_environ", "run_command"]


@dataclass(frozen=True)
class CompletedCommand:
    """What a command run by `run_command` left: its arguments, exit status, and output
    (str, or bytes with ``text=False``)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str | bytes
    stderr: str | bytes


def run_command(
    argv: Sequence[str] | str,
    env: str | PonchoEnvironment | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    text: bool = True,
    data: bool = True,
    data_cache: str | os.PathLike[str] | None = None,
) -> CompletedCommand:
    """Run `argv` in the Poncho environment `env` and return its exit status and output.

    Meant to run on a Dask worker: ``client.submit(run_command, ["python", "x.py"], env=env,
    pure=False)``. `env` is a registered `PonchoEnvironment` or its name (None: the only one
    registered). `argv` is a list (a string is split with `shlex.split`, no shell); the
    command is looked up on the activated environment's PATH. `environ` adds variables to
    the activated ones; the spec's data (git/http) is fetched into `data_cache` and its
    variables set unless `data` is false. With `check` (the default) a non-zero exit raises
    `CommandFailed` carrying stdout and stderr; a `timeout` kills the command and raises it
    too. Raises `CommandNotFound` / `CommandNotExecutable` when it cannot be started.
    """
    args = shlex.split(argv) if isinstance(argv, str) else [os.fspath(a) for a in argv]
    if not args:
        raise ValueError("empty command")
    name, prepared = resolve(env)
    with activated_environ(prepared, environ, data=data, data_cache=data_cache) as variables:
        command = prepared.command(args)
        try:
            done = subprocess.run(
                command,
                env=variables,
                cwd=cwd,
                input=input.encode() if text and isinstance(input, str) else input,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(
                args, None, _text(exc.stdout, text), _text(exc.stderr, text), name, timeout
            ) from None
        except FileNotFoundError as exc:
            if cwd is not None and not os.path.isdir(cwd):
                raise
            raise CommandNotFound(args[0]) from exc
        except PermissionError as exc:
            raise CommandNotExecutable(args[0], exc.strerror or str(exc)) from exc
    stdout, stderr = _text(done.stdout, text), _text(done.stderr, text)
    if check and done.returncode != 0:
        raise CommandFailed(args, done.returncode, stdout, stderr, name)
    return CompletedCommand(tuple(args), done.returncode, stdout, stderr)


@contextlib.contextmanager
def activated_environ(
    prepared: PreparedEnvironment,
    extra: Mapping[str, str] | None = None,
    *,
    data: bool = True,
    data_cache: str | os.PathLike[str] | None = None,
) -> Iterator[dict[str, str]]:
    """The activated variables of `prepared` (plus `extra`, plus its data's variables, held
    in the cache for the block when `data`)."""
    variables = prepared.environ(os.environ)
    if extra:
        variables.update(extra)
    if data and prepared.has_data:
        with prepared.data(data_cache) as paths:
            variables.update(paths)
            yield variables
    else:
        yield variables


def _text(raw: bytes | None, text: bool) -> str | bytes:
    if raw is None:
        return "" if text else b""
    return raw.decode(errors="replace") if text else raw

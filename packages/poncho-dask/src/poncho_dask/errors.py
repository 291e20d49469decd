"""Errors of the Dask integration; all derive from `poncho_run.RunError`.

They cross process boundaries (raised on a worker, re-raised on the client by Dask), so each
one pickles its constructor arguments (`__reduce__`) and holds only strings and numbers.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Sequence

from poncho_run import RunError

__all__ = [
    "CommandFailed",
    "EnvironmentIncomplete",
    "EnvironmentNotRegistered",
    "RemoteError",
]

#: How much of a failed command's stderr (characters, the end of it) goes into the message;
#: the whole of it stays in the `stderr` attribute.
STDERR_IN_MESSAGE = 8000


class EnvironmentNotRegistered(RunError, LookupError):
    """A task named a Poncho environment that is not registered on its worker."""


class EnvironmentIncomplete(RunError):
    """The environment lacks something the task needs (its python, cloudpickle, ...)."""


class CommandFailed(RunError):
    """A command run in an environment exited with a non-zero status (or timed out).

    `returncode` is negative when a signal killed it (``-N``), None when it timed out;
    `stdout` and `stderr` are what it wrote (str, or bytes for ``text=False``).
    """

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stdout: str | bytes,
        stderr: str | bytes,
        env: str,
        timeout: float | None = None,
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.env = env
        self.timeout = timeout
        super().__init__(self._message())

    def _message(self) -> str:
        what = f"command {shlex.join(self.argv)} in environment {self.env!r}"
        if self.returncode is None:
            status = f"did not finish within {self.timeout:g} s and was killed"
        elif self.returncode < 0:
            status = f"was killed by signal {_signal_name(-self.returncode)}"
        else:
            status = f"exited with status {self.returncode}"
        text = (
            self.stderr.decode(errors="replace") if isinstance(self.stderr, bytes) else self.stderr
        )
        text = text.rstrip()
        if not text:
            return f"{what} {status} (no stderr)"
        if len(text) > STDERR_IN_MESSAGE:
            text = "[...]\n" + text[-STDERR_IN_MESSAGE:]
        return f"{what} {status}; its stderr:\n{text}"

    def __reduce__(
        self,
    ) -> tuple[
        type[CommandFailed],
        tuple[tuple[str, ...], int | None, str | bytes, str | bytes, str, float | None],
    ]:
        return (
            type(self),
            (self.argv, self.returncode, self.stdout, self.stderr, self.env, self.timeout),
        )


class RemoteError(RunError):
    """A Python function run by the environment's interpreter failed there.

    `stage` says where: ``"load"`` (unpickling the function and its arguments in the
    environment), ``"call"`` (the function raised), ``"return"`` (its result could not be
    pickled there, or loaded back on the worker) or ``"start"`` (the interpreter ended without
    answering). `exc_type` is the exception's qualified name (e.g. ``"ValueError"``),
    `remote_traceback` the traceback text printed in the environment, `hint` advice for
    the user (may be empty).
    """

    def __init__(
        self,
        env: str,
        function: str,
        stage: str,
        exc_type: str,
        message: str,
        remote_traceback: str,
        hint: str = "",
    ) -> None:
        self.env = env
        self.function = function
        self.stage = stage
        self.exc_type = exc_type
        self.message = message
        self.remote_traceback = remote_traceback
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        doing = {
            "load": "could not load",
            "call": "raised an exception in",
            "return": "could not return the result of",
            "start": "ended without a result for",
        }.get(self.stage, "failed in")
        head = f"environment {self.env!r} {doing} {self.function}"
        if self.exc_type:
            head += f": {self.exc_type}: {self.message}" if self.message else f": {self.exc_type}"
        elif self.message:
            head += f": {self.message}"
        if self.hint:
            head += f"\n({self.hint})"
        if self.remote_traceback.strip():
            head += "\n\nIn the environment:\n" + self.remote_traceback.rstrip()
        return head

    def __reduce__(
        self,
    ) -> tuple[type[RemoteError], tuple[str, str, str, str, str, str, str]]:
        return (
            type(self),
            (
                self.env,
                self.function,
                self.stage,
                self.exc_type,
                self.message,
                self.remote_traceback,
                self.hint,
            ),
        )


def _signal_name(signum: int) -> str:
    try:
        return f"{signal.Signals(signum).name} ({signum})"
    except ValueError:
        return str(signum)

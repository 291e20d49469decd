"""Running the command: in place of this process (``exec``) or as a child with signals relayed.

`exec_command` is what a run with an unpack folder does: poncho-run does not stay around.
`SignalRelay` is for runs that must clean up after the command (the temporary folder):
SIGINT, SIGTERM and SIGHUP are passed on to the child, and the caller cleans up once it
exits (in the main thread only: elsewhere Python cannot set signal handlers). A SIGINT or
SIGHUP that the terminal already sent to the whole foreground process group (Ctrl-C,
hang-up) is not sent a second time. A signal that arrives before the child
exists raises `Terminated`, so that the caller can clean up and exit ``128 + signal``.

This module is on the warm path: ``signal`` and ``subprocess`` are imported only by the relay.
"""

# Paths are str here: on the warm path, where pathlib (which imports re) would cost more than
# the whole run.
# ruff: noqa: PTH113, PTH118

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence
    from types import FrameType, TracebackType
    from typing import NoReturn

__all__ = ["SignalRelay", "Terminated", "exec_command", "exit_status"]


def exec_command(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with `argv`, looked up on `env`'s PATH.

    Raises `CommandNotFound` (exit status 127) or `CommandNotExecutable` (126).
    """
    _restore_signals()
    try:
        os.execvpe(argv[0], list(argv), dict(env))
    except OSError as exc:
        raise _exec_error(argv[0], exc, env) from exc


def _restore_signals() -> None:
    """Undo what the interpreter did at start-up and an exec would pass on: Python ignores
    SIGPIPE and SIGXFSZ (``subprocess`` restores them in its children; ``exec`` does not).
    ``_signal`` is the built-in module under ``signal``, which would import ``enum``."""
    import _signal

    for name in ("SIGPIPE", "SIGXFSZ"):
        number = getattr(_signal, name, None)
        if number is not None:
            _signal.signal(number, _signal.SIG_DFL)


def exit_status(returncode: int) -> int:
    """A child's exit status as a shell reports it (128 + N for death by signal N)."""
    return 128 - returncode if returncode < 0 else returncode


def _exec_error(command: str, exc: OSError, env: Mapping[str, str]) -> Exception:
    from poncho_run.errors import CommandNotExecutable, CommandNotFound

    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if _exists_on_path(command, env):
            # The file is there: what is missing is its interpreter or loader.
            return CommandNotExecutable(command, "bad interpreter or missing program loader")
        return CommandNotFound(command)
    if exc.errno == errno.ENOEXEC:
        return CommandNotExecutable(command, "not a program (no #! line?)")
    return CommandNotExecutable(command, exc.strerror or str(exc))


def _exists_on_path(command: str, env: Mapping[str, str]) -> bool:
    if os.sep in command:
        return os.path.isfile(command)
    return any(
        os.path.isfile(os.path.join(folder or ".", command))
        for folder in os.get_exec_path(dict(env))
    )


class Terminated(BaseException):
    """A terminating signal arrived while no child was running to pass it to."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by signal {signum}")


class SignalRelay:
    """Within the ``with`` block, relay SIGINT/SIGTERM/SIGHUP to the child started with
    `run`, or raise `Terminated` while there is none. After `run` returns, signals are only
    recorded (`received`), so the caller's cleanup is not interrupted."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.received: int | None = None
        self._starting = False
        self._finished = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalRelay:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may set handlers: signals keep their course
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def run(self, argv: Sequence[str], env: Mapping[str, str]) -> int:
        """Run `argv` as a child with `env`, relaying signals; return its exit status
        (``128 + N`` if signal N killed it). Raises `CommandNotFound` /
        `CommandNotExecutable` if it cannot be started."""
        import subprocess

        self._starting = True
        try:
            try:
                child = subprocess.Popen(list(argv), env=dict(env))
            except OSError as exc:
                raise _exec_error(argv[0], exc, env) from exc
            self.child = child
        finally:
            self._starting = False
        if self.received is not None:
            self._forward(self.received)
        try:
            return exit_status(child.wait())
        finally:
            self.hold()

    def hold(self) -> None:
        """From now on only record signals (while the caller cleans up)."""
        self._finished = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self._finished or self._starting:
            return
        if self.child is None:
            raise Terminated(signum)
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        import signal

        assert self.child is not None
        if signum in (signal.SIGINT, signal.SIGHUP) and _terminal_sent_it():
            return
        if self.child.poll() is None:
            self.child.send_signal(signum)


def _terminal_sent_it() -> bool:
    """Whether we are in the foreground process group of a terminal (whose Ctrl-C or
    hang-up the child, in the same group, has then received as well)."""
    for fd in (0, 1, 2):
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False

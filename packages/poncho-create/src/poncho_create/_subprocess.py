"""Running a build tool (pip, conda): output read as it comes, children never orphaned.

The child runs in a session (and process group) of its own, so that whatever ends the build
early (Ctrl-C, SIGTERM from a batch scheduler at its time limit, an error in our code) ends
the child and everything it started too, instead of leaving it running in the background.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence

__all__ = ["run_streamed"]

_GRACE_SECONDS = 5.0


def run_streamed(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` with stdout and stderr merged; `on_line` gets each line as it comes.

    Returns the completed process with the whole output as ``stdout``. OSError if it cannot
    start. If anything interrupts the wait (an exception, a signal handler raising), the
    child's process group gets SIGTERM, then SIGKILL after a few seconds, before the
    exception goes on.
    """
    process = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
        process.wait()
    except BaseException:
        _end_group(process)
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()
    return subprocess.CompletedProcess(list(cmd), process.returncode, "".join(lines))


def _end_group(process: subprocess.Popen[str]) -> None:
    for sig, wait in ((signal.SIGTERM, _GRACE_SECONDS), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from poncho_run import process
from poncho_run.errors import CommandNotExecutable, CommandNotFound
from poncho_run.process import SignalRelay, Terminated, exit_status


def test_exit_status_is_the_shell_s() -> None:
    assert exit_status(0) == 0
    assert exit_status(3) == 3
    assert exit_status(-signal.SIGTERM) == 143


def test_exec_errors_are_mapped_to_shell_statuses(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path)}
    (tmp_path / "there").write_text("#!/nonexistent\n")
    cases = {
        errno.ENOENT: ("nothere", CommandNotFound, 127),
        errno.ENOTDIR: ("nothere", CommandNotFound, 127),
        errno.EACCES: ("x", CommandNotExecutable, 126),
        errno.ENOEXEC: ("x", CommandNotExecutable, 126),
    }
    for code, (command, kind, status) in cases.items():
        err = process._exec_error(command, OSError(code, os.strerror(code)), env)
        assert isinstance(err, kind) and err.exit_status == status  # type: ignore[attr-defined]
    err = process._exec_error("there", OSError(errno.ENOENT, "x"), env)
    assert isinstance(err, CommandNotExecutable) and "bad interpreter" in str(err)
    err = process._exec_error(str(tmp_path / "there"), OSError(errno.ENOENT, "x"), env)
    assert isinstance(err, CommandNotExecutable)


EXEC = """
import sys
from poncho_run.process import exec_command
try:
    exec_command(sys.argv[1:], {"PATH": "/usr/bin:/bin"})
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["echo", "replaced"], "replaced"),
        (
            ["nothere-at-all"],
            "CommandNotFound nothere-at-all: command not found in the environment",
        ),
    ],
)
def test_exec_replaces_the_process_or_raises(argv: list[str], expected: str) -> None:
    out = subprocess.run([sys.executable, "-c", EXEC, *argv], capture_output=True, text=True)
    assert out.stdout.strip() == expected


def test_a_signal_before_the_child_exists_raises_terminated() -> None:
    with pytest.raises(Terminated) as info, SignalRelay():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes
            pass
    assert info.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_is_passed_on_to_the_child() -> None:
    with SignalRelay() as relay:
        timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
        timer.start()
        status = relay.run(["sleep", "30"], os.environ)
        timer.join()
    assert status == 128 + signal.SIGTERM
    assert relay.received == signal.SIGTERM


def test_signals_during_cleanup_are_only_recorded() -> None:
    with SignalRelay() as relay:
        assert relay.run(["true"], os.environ) == 0
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
    assert relay.received == signal.SIGINT


def test_a_command_that_cannot_start_is_reported() -> None:
    with SignalRelay() as relay, pytest.raises(CommandNotFound):
        relay.run(["nothere-at-all"], {"PATH": "/nonexistent"})


def test_without_a_terminal_nothing_was_sent_by_one() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from poncho_run.process import _terminal_sent_it as t; print(t())"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout.strip() == "False"


def test_ctrl_c_from_the_terminal_is_not_sent_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_terminal_sent_it", lambda: True)
    with SignalRelay() as relay:
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        # The child (not in our terminal here) does not get it from us: it ends on its own.
        status = relay.run([sys.executable, "-c", "import time; time.sleep(1.5)"], os.environ)
        timer.join()
    assert status == 0 and relay.received == signal.SIGINT


def test_a_signal_that_came_while_starting_is_passed_on_once_the_child_exists() -> None:
    with SignalRelay() as relay:
        relay.received = signal.SIGTERM
        assert relay.run(["sleep", "30"], os.environ) == 128 + signal.SIGTERM


def test_the_foreground_group_of_a_terminal_is_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "tcgetpgrp", lambda fd: os.getpgrp())
    assert process._terminal_sent_it() is True
    monkeypatch.setattr(os, "tcgetpgrp", lambda fd: os.getpgrp() + 1)
    assert process._terminal_sent_it() is False

    def no_terminal(fd: int) -> int:
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.setattr(os, "tcgetpgrp", no_terminal)
    assert process._terminal_sent_it() is False


SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)

SHOW_IGNORED = """
import sys
from poncho_run.process import exec_command
exec_command(["grep", "^SigIgn", "/proc/self/status"], {"PATH": "/usr/bin:/bin"})
"""


def ignored_mask(status_line: str) -> int:
    return int(status_line.split()[1], 16)


def test_the_command_does_not_inherit_python_s_ignored_sigpipe() -> None:
    out = subprocess.run([sys.executable, "-c", SHOW_IGNORED], capture_output=True, text=True)
    assert out.stdout.startswith("SigIgn")
    assert not ignored_mask(out.stdout) & SIGPIPE_BIT
    mine = Path("/proc/self/status").read_text().split("SigIgn:")[1].split()[0]
    assert int(mine, 16) & SIGPIPE_BIT, "this interpreter does ignore it (else the test is moot)"


def test_a_child_does_not_inherit_it_either(tmp_path: Path) -> None:
    out = tmp_path / "status"
    with SignalRelay() as relay:
        argv = ["sh", "-c", f"grep ^SigIgn /proc/self/status > {out}"]
        assert relay.run(argv, os.environ) == 0
    assert not ignored_mask(out.read_text()) & SIGPIPE_BIT


def test_outside_the_main_thread_signals_are_left_alone() -> None:
    results: list[object] = []

    def work() -> None:
        with SignalRelay() as relay:
            results.append(relay.run(["true"], os.environ))
        results.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert results == [0, signal.SIG_DFL]

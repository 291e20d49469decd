"""The flock lock between real processes: exclusive and shared, deadlines, waits that end,
holders that die, locks kept across exec, and lock files one must refuse."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pickle
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from poncho_core import lock as lock_module
from poncho_core.errors import EXIT_LOCK_TIMEOUT, LockError, LockTimeout, PonchoError
from poncho_core.lock import FileLock, acquire, open_lock_file, read_pid

# A holder process: takes the lock (through `acquire`, or a bare flock as shell code does
# with flock(1)), says "locked", and releases it on the first line read from stdin (after
# the delay that line gives), then waits for stdin to close.
HOLDER = r"""
import fcntl, os, sys, time
path, mode, how = sys.argv[1], sys.argv[2], sys.argv[3]
if how == "flock":
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_SH if mode == "shared" else fcntl.LOCK_EX)
    release = lambda: fcntl.flock(fd, fcntl.LOCK_UN)
else:
    from poncho_core.lock import acquire
    held = acquire(path, shared=mode == "shared", timeout=0, record_pid=how == "record")
    if held is None:
        print("busy", flush=True)
        sys.exit(3)
    release = held.release
print("locked", flush=True)
line = sys.stdin.readline()
if line.strip():
    time.sleep(float(line))
    release()
    print("released", flush=True)
sys.stdin.read()
"""

# Whether a separate process can take the lock at once (exit 0) or not (exit 1); it opens
# the file read-only and flocks it directly, independently of the code under test.
PROBE = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
mode = fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX
try:
    fcntl.flock(fd, mode | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
sys.exit(0)
"""

# A generous bound for things that should take milliseconds; far below the delays a broken
# implementation would show (the deadlines and poll intervals the tests set).
PROMPT = 15.0


class Holder:
    """A real process holding the lock on `path`."""

    def __init__(self, path: Path, mode: str = "exclusive", how: str = "acquire") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), mode, how],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        assert self.expect() == "locked"

    def expect(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "the holder process said nothing for 30 s"
        return self.proc.stdout.readline().strip()

    def release(self, after: float = 0.0) -> None:
        """Ask the holder to release the lock `after` seconds from now (without waiting)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{after}\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@pytest.fixture
def holders() -> Iterator[Callable[..., Holder]]:
    started: list[Holder] = []

    def start(path: Path, mode: str = "exclusive", how: str = "acquire") -> Holder:
        holder = Holder(path, mode, how)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        holder.stop()


def can_take(path: Path, shared: bool = False) -> bool:
    """Whether another process can take the lock on `path` at once."""
    mode = "shared" if shared else "exclusive"
    status = subprocess.run([sys.executable, "-c", PROBE, str(path), mode], check=False)
    assert status.returncode in (0, 1)
    return status.returncode == 0


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def fds_leaked(before: set[str]) -> set[str]:
    """Descriptors open now and not in `before`, once an abandoned wait had time to end
    (its thread keeps a duplicate while it is queued in flock)."""
    deadline = time.monotonic() + PROMPT
    while (extra := open_fds() - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    return extra


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    return tmp_path / "dir.poncho.lock"


# --- exclusive and shared, between processes -------------------------------------------


def test_an_exclusive_lock_keeps_out_every_other_process(lockfile: Path) -> None:
    assert not lockfile.exists()
    with acquire(lockfile) as held:
        assert isinstance(held, FileLock)
        assert lockfile.is_file()  # made when missing
        assert held.path == str(lockfile) and not held.shared
        assert not can_take(lockfile)
        assert not can_take(lockfile, shared=True)
    assert can_take(lockfile)


def test_shared_locks_share_and_keep_out_an_exclusive_one(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holders(lockfile, "shared")
    holders(lockfile, "shared")  # two processes hold it shared at once
    held = acquire(lockfile, shared=True, timeout=0)
    assert held is not None and held.shared
    held.release()
    assert acquire(lockfile, timeout=0) is None
    assert not can_take(lockfile)


def test_a_shared_lock_held_here_keeps_out_an_exclusive_process(lockfile: Path) -> None:
    with acquire(lockfile, shared=True) as held:
        assert held.shared
        assert can_take(lockfile, shared=True)
        assert not can_take(lockfile)
    assert can_take(lockfile)


@pytest.mark.parametrize("mode", ["exclusive", "shared"])
def test_a_lock_held_by_flock_elsewhere_is_not_taken(
    lockfile: Path, holders: Callable[..., Holder], mode: str
) -> None:
    # Shell code takes the same locks with flock(1): a bare flock on the file.
    holders(lockfile, mode, "flock")
    before = open_fds()
    assert acquire(lockfile, timeout=0) is None
    assert open_fds() - before == set()  # the descriptor opened is closed again


def test_timeout_zero_closes_a_descriptor_it_was_given(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holders(lockfile)
    fd = open_lock_file(lockfile)
    assert acquire(lockfile, timeout=0, fd=fd) is None
    with pytest.raises(OSError) as caught:
        os.fstat(fd)
    assert caught.value.errno == errno.EBADF


def test_a_given_descriptor_is_the_one_locked_and_owned(lockfile: Path) -> None:
    fd = open_lock_file(lockfile)
    held = acquire(lockfile, fd=fd)
    assert held is not None and held.fd == fd
    assert not can_take(lockfile)
    held.release()
    assert can_take(lockfile)
    with pytest.raises(OSError):
        os.fstat(fd)


# --- deadlines and waits ----------------------------------------------------------------


def test_a_deadline_raises_lock_timeout_naming_the_path_and_the_holders_pid(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holder = holders(lockfile, "exclusive", "record")
    assert read_pid(lockfile) == holder.pid
    before = open_fds()
    start = time.monotonic()
    with pytest.raises(LockTimeout) as caught:
        acquire(lockfile, timeout=0.3, what="the unpack folder /scratch/env")
    assert time.monotonic() - start >= 0.3  # it did wait until the deadline
    error = caught.value
    assert isinstance(error, TimeoutError) and isinstance(error, PonchoError)
    assert error.exit_status == EXIT_LOCK_TIMEOUT == 75
    assert error.path == str(lockfile)
    assert error.pid == holder.pid
    assert error.waited == 0.3
    message = str(error)
    assert str(lockfile) in message
    assert f"pid {holder.pid}" in message
    assert message.startswith("the unpack folder /scratch/env: ")
    holder.release()  # the abandoned wait gets the lock, drops it and closes its descriptor
    assert fds_leaked(before) == set()
    # An error a CLI reports from another process keeps its fields.
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.pid, copy.waited, str(copy)) == (
        error.path,
        error.pid,
        error.waited,
        message,
    )


def test_a_timeout_without_a_recorded_pid_names_no_pid(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holders(lockfile, "exclusive", "flock")
    with pytest.raises(LockTimeout) as caught:
        acquire(lockfile, timeout=0.1)
    assert caught.value.pid is None
    assert "another process after waiting" in str(caught.value)
    assert str(lockfile) in str(caught.value)


def test_on_wait_is_called_once_with_the_holders_pid(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holder = holders(lockfile, "exclusive", "record")
    calls: list[int | None] = []
    # done() makes the wait loop many times before the deadline: on_wait stays one call.
    with pytest.raises(LockTimeout):
        acquire(lockfile, timeout=0.4, on_wait=calls.append, done=lambda: False)
    assert calls == [holder.pid]


def test_on_wait_is_not_called_when_the_lock_is_free(lockfile: Path) -> None:
    calls: list[int | None] = []
    with acquire(lockfile, on_wait=calls.append, timeout=5):
        pass
    assert calls == []


def test_on_wait_then_the_lock_once_the_holder_releases_it(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holder = holders(lockfile, "exclusive", "record")
    calls: list[int | None] = []

    def waiting(pid: int | None) -> None:
        calls.append(pid)
        holder.release(after=0.2)

    held = acquire(lockfile, timeout=60, on_wait=waiting, record_pid=True)
    assert held is not None
    assert calls == [holder.pid]
    assert read_pid(lockfile) == os.getpid()  # the new holder recorded itself
    assert holder.expect() == "released"
    assert not can_take(lockfile)
    held.release()


def test_done_ends_the_wait_and_returns_none(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holder = holders(lockfile)
    asked: list[float] = []

    def done() -> bool:
        asked.append(time.monotonic())
        return len(asked) >= 3

    before = open_fds()
    start = time.monotonic()
    assert acquire(lockfile, timeout=60, done=done) is None
    assert time.monotonic() - start < PROMPT  # not the deadline's LockTimeout
    assert len(asked) >= 3
    holder.release()
    assert fds_leaked(before) == set()


def test_a_holder_killed_with_sigkill_frees_the_lock_at_once(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holder = holders(lockfile, "exclusive", "record")
    calls: list[int | None] = []

    def kill_the_holder(pid: int | None) -> None:
        calls.append(pid)
        os.kill(holder.pid, signal.SIGKILL)

    start = time.monotonic()
    held = acquire(lockfile, timeout=60, on_wait=kill_the_holder)
    assert held is not None
    assert time.monotonic() - start < PROMPT  # the kernel freed it, no timeout recovered it
    assert calls == [holder.pid]
    assert holder.proc.wait() == -signal.SIGKILL
    assert not can_take(lockfile)
    held.release()


@pytest.mark.parametrize("asks_done", [False, True])
def test_the_kernel_wait_wakes_as_soon_as_the_holder_releases(
    lockfile: Path, holders: Callable[..., Holder], monkeypatch: pytest.MonkeyPatch, asks_done: bool
) -> None:
    # A poll interval far longer than the bound below: a wait that polled for the lock
    # (instead of sleeping in flock) would take that long after the release.
    monkeypatch.setattr(lock_module, "_POLL", 60.0)
    holder = holders(lockfile)
    start = time.monotonic()
    held = acquire(
        lockfile,
        timeout=120,
        on_wait=lambda pid: holder.release(after=0.3),  # released while we sleep in flock
        done=(lambda: False) if asks_done else None,
    )
    assert held is not None
    assert time.monotonic() - start < PROMPT
    held.release()


def test_without_a_timeout_the_wait_lasts_until_the_holder_releases(
    lockfile: Path, holders: Callable[..., Holder]
) -> None:
    holder = holders(lockfile)
    got: list[FileLock | None] = []
    # In a thread, so that a wait that never ends fails the test instead of hanging it.
    waiter = threading.Thread(
        target=lambda: got.append(
            acquire(lockfile, timeout=None, on_wait=lambda pid: holder.release(after=0.5))
        ),
        daemon=True,
    )
    waiter.start()
    waiter.join(PROMPT)
    assert not waiter.is_alive(), "still waiting after the holder released the lock"
    [held] = got
    assert held is not None
    assert holder.expect() == "released"
    assert not can_take(lockfile)
    held.release()


@pytest.mark.parametrize("ended_by", ["timeout", "done"])
def test_an_abandoned_wait_does_not_keep_the_lock_it_gets_later(
    lockfile: Path, holders: Callable[..., Holder], ended_by: str
) -> None:
    holder = holders(lockfile)
    if ended_by == "timeout":
        with pytest.raises(LockTimeout):
            acquire(lockfile, timeout=0.2)
    else:
        assert acquire(lockfile, timeout=60, done=lambda: True) is None
    # The waiting thread is still queued in flock: it gets the lock when the holder lets
    # go, and must drop it at once.
    holder.release()
    assert holder.expect() == "released"
    deadline = time.monotonic() + PROMPT
    while not can_take(lockfile):
        assert time.monotonic() < deadline, "the abandoned wait kept the lock"
        time.sleep(0.05)
    # and it does not get it back behind our back afterwards
    with acquire(lockfile, timeout=0) as held:
        assert held is not None
        assert not can_take(lockfile)


# --- across exec ------------------------------------------------------------------------

# Takes the lock, marks it inheritable or not, then execs a program that checks, through
# a file descriptor of its own, whether the lock is held, and waits for stdin to close.
EXEC_HOLDER = r"""
import os, sys
from poncho_core.lock import acquire
path, inherit, program = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
held = acquire(path)
if inherit:
    held.set_inheritable()
os.execv(program[0], program)
"""

EXECED = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free", flush=True)
except BlockingIOError:
    print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("inherit", [True, False])
def test_set_inheritable_keeps_the_lock_in_the_program_execd(lockfile: Path, inherit: bool) -> None:
    argv = [sys.executable, "-c", EXEC_HOLDER, str(lockfile), "1" if inherit else "0"]
    argv += [sys.executable, "-c", EXECED, str(lockfile)]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        said = proc.stdout.readline().strip()
        if inherit:
            assert said == "held"  # the exec'd program holds it through the inherited fd
            assert acquire(lockfile, timeout=0) is None  # ... while it runs
        else:
            assert said == "free"  # close-on-exec: the lock went with the old program
        proc.stdin.close()
        assert proc.wait() == 0
    with acquire(lockfile, timeout=0) as held:  # and it ends with the exec'd program
        assert held is not None


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock(1)")
@pytest.mark.parametrize("inherit", [True, False])
def test_flock_n_execd_with_the_inherited_lock_finds_it_held(lockfile: Path, inherit: bool) -> None:
    flock = shutil.which("flock")
    assert flock is not None
    argv = [sys.executable, "-c", EXEC_HOLDER, str(lockfile), "1" if inherit else "0"]
    argv += [flock, "-n", str(lockfile), "true"]
    status = subprocess.run(argv, check=False).returncode
    assert status == (1 if inherit else 0)


def test_a_lock_is_not_inherited_unless_asked(lockfile: Path) -> None:
    with acquire(lockfile) as held:
        assert not os.get_inheritable(held.fd)
        held.set_inheritable()
        assert os.get_inheritable(held.fd)
        held.set_inheritable(False)
        assert not os.get_inheritable(held.fd)


# --- lock files one must refuse, and read-only ones -------------------------------------


def test_a_symbolic_link_as_lock_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("precious\n")
    link = tmp_path / "link.lock"
    link.symlink_to(target)
    before = open_fds()
    with pytest.raises(LockError) as caught:
        acquire(link)
    assert str(link) in str(caught.value)
    assert isinstance(caught.value, PonchoError) and isinstance(caught.value, OSError)
    assert target.read_text() == "precious\n"
    assert can_take(target)
    assert open_fds() - before == set()


def test_a_dangling_symbolic_link_does_not_create_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.lock"
    link.symlink_to(tmp_path / "elsewhere" / "made")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(LockError):
        acquire(link, timeout=0)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_fifo_or_a_device_as_lock_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.lock"
    os.mkfifo(fifo)
    before = open_fds()
    with pytest.raises(LockError) as caught:
        acquire(fifo, timeout=5)
    assert str(fifo) in str(caught.value)
    assert open_fds() - before == set()  # the descriptor opened to look is closed
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    with pytest.raises(LockError):
        open_lock_file("/dev/null")


def test_a_folder_as_lock_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder.lock"
    folder.mkdir()
    with pytest.raises(LockError, match="not a regular file"):
        acquire(folder, timeout=5)
    assert folder.is_dir()


def _nobody() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def as_other_user(folder: Path, func: Callable[[], object]) -> object:
    """Run `func` in `folder`, as a user other than the files' owner (root bypasses file
    modes: as root, run it in a child that became "nobody"). Return what it returns; an
    exception it raises is raised here."""
    cwd = Path.cwd()
    if os.geteuid() != 0:
        os.chdir(folder)
        try:
            return func()
        finally:
            os.chdir(cwd)
    # Abandoned waits of other tests end once their holders are gone: fork alone.
    for thread in threading.enumerate():
        if thread.name == "poncho-lock-wait":
            thread.join(10)
    uid, gid = _nobody()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read_end)
            os.chdir(folder)  # as root: folder's parents need not be searchable by nobody
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            try:
                outcome: tuple[str, object] = ("returned", func())
            except BaseException as exc:
                outcome = ("raised", exc)
            try:
                data = pickle.dumps(outcome)
            except Exception:
                data = pickle.dumps(("raised", RuntimeError(repr(outcome))))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "raised":
        assert isinstance(value, BaseException)
        raise value
    return value


def test_a_read_only_lock_file_of_another_user_still_locks(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    lockfile = tmp_path / "theirs.lock"
    lockfile.write_text("4242\n")
    lockfile.chmod(0o444)

    def lock_it() -> dict[str, object]:
        held = acquire("theirs.lock", record_pid=True, timeout=0)
        assert held is not None
        try:
            other = os.open("theirs.lock", os.O_RDONLY)  # another open file: another holder
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                blocked = False
            except BlockingIOError:
                blocked = True
            finally:
                os.close(other)
            access = fcntl.fcntl(held.fd, fcntl.F_GETFL) & os.O_ACCMODE
            return {"blocked": blocked, "read_only": access == os.O_RDONLY}
        finally:
            held.release()

    assert as_other_user(tmp_path, lock_it) == {"blocked": True, "read_only": True}
    assert lockfile.read_text() == "4242\n"  # the pid is a courtesy a read-only file skips
    assert stat.S_IMODE(lockfile.stat().st_mode) == 0o444


def test_a_missing_lock_file_in_a_read_only_folder_is_a_permission_error(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as caught:
            as_other_user(tmp_path, lambda: acquire("ro/dir.poncho.lock", timeout=0))
        assert caught.value.filename == "ro/dir.poncho.lock"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


# --- release and pids -------------------------------------------------------------------


def test_release_twice_is_fine_and_frees_the_lock(lockfile: Path) -> None:
    held = acquire(lockfile)
    assert held is not None
    fd = held.fd
    held.release()
    assert held.fd == -1
    with pytest.raises(OSError):
        os.fstat(fd)  # closed
    held.release()
    with held:  # the end of a with block after a release is one more release
        pass
    assert can_take(lockfile)


def test_read_pid(tmp_path: Path, lockfile: Path) -> None:
    assert read_pid(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("")
    assert read_pid(tmp_path / "empty") is None
    (tmp_path / "junk").write_text("not a pid\n")
    assert read_pid(tmp_path / "junk") is None
    (tmp_path / "pid").write_text(" 1234\n")
    assert read_pid(tmp_path / "pid") == 1234
    assert read_pid(tmp_path) is None  # a folder
    # An exclusive holder overwrites a longer old pid with its own; a shared one writes none.
    lockfile.write_text("999999999999\n")
    with acquire(lockfile, shared=True, record_pid=True):
        assert read_pid(lockfile) == 999999999999
    with acquire(lockfile, record_pid=True):
        assert read_pid(lockfile) == os.getpid()
        assert lockfile.read_text() == f"{os.getpid()}\n"
    lockfile.write_text("77\n")
    with acquire(lockfile):  # without record_pid, the file is left as it is
        assert read_pid(lockfile) == 77

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from poncho_run.errors import LockTimeout
from poncho_run.lock import folder_lock, lock_path

HOLD = """
import sys, time
from poncho_run.lock import folder_lock
with folder_lock(sys.argv[1], 5):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Another process holding the lock of tmp_path/env until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "env")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    proc.communicate("")


def test_the_lock_file_sits_next_to_the_folder(tmp_path: Path) -> None:
    assert lock_path(str(tmp_path / "env") + "/") == str(tmp_path / "env.poncho.lock")
    with folder_lock(str(tmp_path / "env"), 1) as locked:
        assert locked
        assert (tmp_path / "env.poncho.lock").exists()
    assert not (tmp_path / "env").exists(), "the folder itself is not created by the lock"


def test_waiting_too_long_for_another_process_names_the_folder_and_the_wait(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockTimeout) as info, folder_lock(str(tmp_path / "env"), 0.3):
        pass
    message = str(info.value)
    assert str(tmp_path / "env") in message and "0.3 s" in message
    assert info.value.exit_status == 75


def test_the_lock_is_taken_once_the_holder_lets_go(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "env")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    assert proc.stdin is not None
    proc.stdin.close()  # the holder exits
    with folder_lock(str(tmp_path / "env"), 30) as locked:
        assert locked
    proc.wait()
    proc.stdout.close()


def test_a_killed_holder_releases_the_lock(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait()
    with folder_lock(str(tmp_path / "env"), 30) as locked:
        assert locked


def test_waiting_stops_when_the_work_is_done_elsewhere(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    calls = []

    def done() -> bool:
        calls.append(time.monotonic())
        return len(calls) >= 3

    with folder_lock(str(tmp_path / "env"), 30, done=done) as locked:
        assert not locked
    assert len(calls) == 3


def test_lock_timeout_pickles() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(LockTimeout("/d", 2.0, "/d.poncho.lock")))
    assert (err.path, err.waited, err.lock_file) == ("/d", 2.0, "/d.poncho.lock")

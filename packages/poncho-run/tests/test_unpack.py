from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poncho_run import unpack
from poncho_run._state import read_state
from poncho_run.errors import (
    EnvironmentNotFound,
    NotAnEnvironment,
    RunError,
    UnpackError,
    UnsafeArchive,
    WrongArchive,
)
from poncho_run.unpack import TEMP_INFIX, ensure_ready
from poncho_run_helpers import hand_env_members, make_tar, member, tree


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(folder.name + "."))


def test_a_missing_folder_is_unpacked_once_and_kept(tmp_path: Path, hand_tarball: Path) -> None:
    target = tmp_path / "deep" / "env"
    state = ensure_ready(str(hand_tarball), str(target), 10)
    assert (target / "bin" / "hello").exists()
    assert state == read_state(str(target))
    assert state["prefix"] == str(target) and state["data"] is False
    assert state["activation"]["scripts"]["set"]["HAND_ACTIVATED"] == "yes:\0P"
    assert siblings(target) == ["env.poncho.lock"], "no temporary folder is left"
    # Warm: neither the tarball nor the lock is looked at.
    hand_tarball.unlink()
    assert ensure_ready(str(hand_tarball), str(target), 10) == state


def test_an_empty_existing_folder_is_filled(tmp_path: Path, hand_tarball: Path) -> None:
    target = tmp_path / "env"
    target.mkdir()
    ensure_ready(str(hand_tarball), str(target), 10)
    assert (target / "lib" / "data.txt").read_text() == "data\n"


def test_a_full_folder_is_used_as_it_is(tmp_path: Path) -> None:
    target = tmp_path / "env"
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "mine").write_text("by hand")
    state = ensure_ready(str(tmp_path / "never-read.tar.gz"), str(target), 10)
    assert tree(target) == {
        "bin",
        "bin/mine",
        ".poncho-run",
        ".poncho-run/state.json",
        ".poncho-run/state.sh",
    }
    assert state["activation"] == {}


def test_a_full_folder_needs_no_environment(tmp_path: Path) -> None:
    target = tmp_path / "env"
    target.mkdir()
    (target / "x").write_text("x")
    assert ensure_ready(None, str(target), 10)["data"] is False


def test_an_empty_folder_without_environment_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentNotFound, match="no environment"):
        ensure_ready(None, str(tmp_path / "env"), 10)


def test_a_file_in_the_way_is_an_error(tmp_path: Path, hand_tarball: Path) -> None:
    (tmp_path / "env").write_text("a file")
    with pytest.raises(RunError, match="not a folder"):
        ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)


def test_a_parent_that_cannot_be_made_is_an_unpack_error(
    tmp_path: Path, hand_tarball: Path
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnpackError, match="cannot create"):
        ensure_ready(str(hand_tarball), str(tmp_path / "file" / "sub" / "env"), 10)


def test_an_unsafe_archive_leaves_nothing_behind(tmp_path: Path) -> None:
    bad = make_tar(tmp_path / "bad.tar.gz", [member("ok.txt", b"x"), member("../evil", b"x")])
    target = tmp_path / "env"
    with pytest.raises(UnsafeArchive, match=r"'\.\./evil'"):
        ensure_ready(str(bad), str(target), 10)
    assert not target.exists()
    assert siblings(target) == ["env.poncho.lock"]
    assert not (tmp_path / "evil").exists()


def test_leftovers_of_an_interrupted_unpack_are_removed(tmp_path: Path, hand_tarball: Path) -> None:
    target = tmp_path / "env"
    stale = tmp_path / f"env{TEMP_INFIX}dead"
    (stale / "bin").mkdir(parents=True)
    other = tmp_path / f"envX{TEMP_INFIX}other"  # another folder's: not touched
    other.mkdir()
    ensure_ready(str(hand_tarball), str(target), 10)
    assert not stale.exists() and other.exists()


def test_a_folder_one_cannot_lock_is_used_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "env"
    target.mkdir()
    (target / "x").write_text("x")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(unpack, "folder_lock", refuse)
    state = ensure_ready(None, str(target), 10)
    assert state["activation"] == {} and read_state(str(target)) is None
    (target / "x").unlink()
    with pytest.raises(UnpackError, match="cannot lock"):
        ensure_ready(None, str(target), 10)


def test_a_rename_that_fails_is_an_unpack_error(
    tmp_path: Path, hand_tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, target: object) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(Path, "rename", refuse)
    with pytest.raises(UnpackError, match="cannot move the unpacked environment"):
        ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)
    assert siblings(tmp_path / "env") == ["env.poncho.lock"]
    assert not (tmp_path / "env").exists() and not (tmp_path / "env").is_symlink()


def test_a_state_that_cannot_be_published_leaves_no_dir(
    tmp_path: Path, hand_tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DIR renamed into place but its state not published: DIR goes, so that the next run
    unpacks it again rather than fail on it (issue 22)."""

    def refuse(prefix: str) -> bool:
        if not Path(prefix, ".poncho-run", "state.json.pending").exists():
            return False  # the check for a leftover pending state, before unpacking
        raise OSError(errno.EISDIR, "Is a directory")

    with monkeypatch.context() as patch:
        patch.setattr(unpack._state, "publish_state", refuse)
        with pytest.raises(UnpackError, match="cannot publish its state: Is a directory"):
            ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)
    assert siblings(tmp_path / "env") == ["env.poncho.lock"]
    assert not (tmp_path / "env").exists()
    assert ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)["prefix"] == str(
        tmp_path / "env"
    )


def test_an_empty_folder_that_cannot_be_replaced_is_an_unpack_error(
    tmp_path: Path, hand_tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "env").mkdir()

    def refuse(self: Path) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(Path, "rmdir", refuse)
    with pytest.raises(UnpackError, match=r"cannot create .*Device or resource busy"):
        ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)
    assert siblings(tmp_path / "env") == ["env.poncho.lock"]


def test_a_failure_while_relocating_leaves_nothing(
    tmp_path: Path, hand_tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(prefix: str) -> bool:
        assert Path(prefix).is_symlink(), "relocated through the link, at its final path"
        raise RunError("conda-unpack failed")

    monkeypatch.setattr(unpack, "relocate", fail)
    with pytest.raises(RunError, match="conda-unpack failed"):
        ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)
    assert siblings(tmp_path / "env") == ["env.poncho.lock"]
    assert not (tmp_path / "env").is_symlink() and not (tmp_path / "env").exists()


def test_the_shared_folder_gets_ordinary_permissions(tmp_path: Path, hand_tarball: Path) -> None:
    mask = os.umask(0o022)
    try:
        ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)
    finally:
        os.umask(mask)
    assert (tmp_path / "env").stat().st_mode & 0o777 == 0o755


# -- real processes ------------------------------------------------------------------------

# Starts when the file GO exists, so that all runs start together; then runs the CLI.
RACER = """
import os, sys, time
import poncho_run.cli
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.002)
sys.exit(poncho_run.cli.main(sys.argv[2:]))
"""


def big_env(tmp_path: Path, files: int) -> Path:
    members = hand_env_members()
    members += [member(f"lib/pad/{i // 100}/f{i}.py", b"x = %d\n" % i * 40) for i in range(files)]
    return make_tar(tmp_path / "big.tar.gz", members)


def test_simultaneous_runs_share_one_folder_and_unpack_it_once(tmp_path: Path) -> None:
    tarball = big_env(tmp_path, 600)
    target = tmp_path / "env"
    go = tmp_path / "go"
    argv = ["-v", "-e", str(tarball), "-d", str(target), "--", "hello"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(16)
    ]
    time.sleep(0.5)
    go.touch()
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 16, results
    outs = [out for out, _ in results]
    assert outs == [f"hello prefix={target} act=yes:{target}\n"] * 16
    unpackings = sum(err.count(f"unpacking {tarball} into") for _, err in results)
    assert unpackings == 1, [err for _, err in results]
    assert siblings(target) == ["env.poncho.lock"]


# Pauses (and says so) after 200 members are extracted, or inside the relocation, to be
# killed there.
PAUSING = """
import sys, time
from poncho_core import extract
from poncho_run import unpack

def pause():
    print("paused", flush=True)
    time.sleep(600)

add = extract._Extractor.add
def slow_add(self, tar, member):
    add(self, tar, member)
    if self.count == 200 and sys.argv[1] == "extracting":
        self._drain()  # the members read so far are on disk
        pause()
extract._Extractor.add = slow_add
relocate = unpack.relocate
def slow_relocate(prefix):
    relocate(prefix)
    if sys.argv[1] == "relocating":
        pause()
    return True
unpack.relocate = slow_relocate
from poncho_run.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("moment", ["extracting", "relocating"])
def test_a_run_killed_while_unpacking_leaves_no_half_filled_folder(
    tmp_path: Path, moment: str
) -> None:
    tarball = big_env(tmp_path, 1000)
    target = tmp_path / "env"
    argv = ["-e", str(tarball), "-d", str(target), "--", "hello"]
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSING, moment, *argv], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "paused\n"
    (temp,) = [p for p in tmp_path.iterdir() if p.name.startswith("env" + TEMP_INFIX)]
    assert len(tree(temp)) > 100, "killed in the middle of unpacking"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert read_state(str(target)) is None
    assert not target.exists() or target.is_symlink(), "the folder itself only appears complete"

    good = subprocess.run(
        [sys.executable, "-m", "poncho_run", *argv], capture_output=True, text=True, check=False
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout == f"hello prefix={target} act=yes:{target}\n"
    assert not target.is_symlink()
    assert len(list((target / "lib" / "pad").rglob("*.py"))) == 1000
    assert not temp.exists(), "the leftover is removed"


# Pauses (and says so) once the environment is relocated and its state computed, while DIR is
# still the temporary link to the sibling folder.
PAUSE_IN_LINK_WINDOW = """
import sys, time
from poncho_run import unpack
finalize = unpack.finalize
def paused_finalize(folder, **kwargs):
    state = finalize(folder, **kwargs)
    print("paused", flush=True)
    time.sleep(float(sys.argv[1]))
    return state
unpack.finalize = paused_finalize
from poncho_run.cli import main
sys.exit(main(sys.argv[2:]))
"""

# Says whether the folder it runs in is the temporary link or the real folder.
WHERE = 'if test -L "$CONDA_PREFIX"; then echo link; else echo real; fi'


def test_no_run_takes_the_folder_as_ready_before_it_is_renamed_into_place(
    tmp_path: Path, hand_tarball: Path
) -> None:
    """Issue 10's 126: a run that found the state through the link DIR -> sibling took DIR
    as ready and exec'd its command from it while the unpacking run replaced the link by
    the folder (unlink, then rename): the command vanished under it (127, 126, or sh's 2).
    """
    target = tmp_path / "env"
    argv = ["-e", str(hand_tarball), "-d", str(target), "--"]
    first = subprocess.Popen(
        [sys.executable, "-c", PAUSE_IN_LINK_WINDOW, "1.5", *argv, "sh", "-c", WHERE],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None and first.stdout.readline() == "paused\n"
    assert target.is_symlink()
    second = subprocess.run(
        [sys.executable, "-m", "poncho_run", *argv, "sh", "-c", WHERE],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert first.communicate(timeout=60)[0] == "real\n"
    assert (second.returncode, second.stdout) == (0, "real\n"), second.stderr


def test_a_run_killed_between_the_rename_and_the_publication_is_completed(
    tmp_path: Path, hand_tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "env"
    killed = unpack._state.publish_state

    def die(prefix: str) -> bool:
        if Path(unpack._state.state_path(prefix) + unpack._state.PENDING_SUFFIX).exists():
            raise KeyboardInterrupt  # killed right after the rename
        return killed(prefix)

    monkeypatch.setattr(unpack._state, "publish_state", die)
    with pytest.raises(KeyboardInterrupt):
        ensure_ready(str(hand_tarball), str(target), 10)
    assert target.is_dir() and not target.is_symlink() and read_state(str(target)) is None
    monkeypatch.setattr(unpack._state, "publish_state", killed)
    hand_tarball.unlink()  # the folder is full: the archive is not needed
    state = ensure_ready(str(hand_tarball), str(target), 10)
    assert state["relocated"] is False and state == read_state(str(target))


# -- DIR bound to its archive (issue 12) ---------------------------------------------------


def test_a_folder_refuses_another_archive_and_names_both(
    tmp_path: Path, hand_tarball: Path
) -> None:
    target = tmp_path / "env"
    state = ensure_ready(str(hand_tarball), str(target), 10)
    assert state["archive"]["size"] == hand_tarball.stat().st_size
    other = make_tar(tmp_path / "other.tar.gz", hand_env_members(activate="export OTHER=1"))
    with pytest.raises(WrongArchive) as info:
        ensure_ready(str(other), str(target), 10)
    assert info.value.exit_status == 65
    message = str(info.value)
    assert str(target) in message and str(other) in message and str(hand_tarball) in message


def test_a_copy_of_the_archive_with_a_new_mtime_is_the_same_archive(
    tmp_path: Path, hand_tarball: Path
) -> None:
    target = tmp_path / "env"
    ensure_ready(str(hand_tarball), str(target), 10)
    copy = tmp_path / "sandbox" / "hand.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes(hand_tarball.read_bytes())
    os.utime(copy, (1, 1))
    assert ensure_ready(str(copy), str(target), 10)["prefix"] == str(target)
    # Same size, same mtime, other content: the sample digest notices.
    forged = tmp_path / "forged.tar.gz"
    data = bytearray(hand_tarball.read_bytes())
    data[-1] ^= 0xFF
    forged.write_bytes(bytes(data))
    stat = hand_tarball.stat()
    os.utime(forged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(WrongArchive):
        ensure_ready(str(forged), str(target), 10)


def test_a_rebuilt_archive_at_the_same_path_is_the_same_when_its_bytes_are(
    tmp_path: Path, hand_tarball: Path
) -> None:
    """Issue 26 item 5: the same bytes written again (new inode and mtime) are accepted;
    other bytes at that path are named as a change, with what differs."""
    archive = tmp_path / "env.tar.gz"
    data = hand_tarball.read_bytes()
    archive.write_bytes(data)
    target = tmp_path / "env"
    ensure_ready(str(archive), str(target), 10)
    (tmp_path / "new").write_bytes(data)
    os.utime(tmp_path / "new", (2, 2))
    os.replace(tmp_path / "new", archive)
    assert ensure_ready(str(archive), str(target), 10)["prefix"] == str(target)
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(changed))
    with pytest.raises(WrongArchive) as info:
        ensure_ready(str(archive), str(target), 10)
    message = str(info.value)
    assert "another archive" not in message and "before that file changed (sha256 " in message
    assert f"remove {target} to unpack it again" in message


def test_a_full_folder_that_is_no_environment_is_refused_untouched(
    tmp_path: Path, hand_tarball: Path
) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(NotAnEnvironment, match="holds no conda environment"):
        ensure_ready(str(hand_tarball), str(target), 10, require_env=True)
    assert tree(target) == {"notes.txt"}


@pytest.mark.parametrize("case", ["link loop", "name too long"])
def test_a_folder_path_the_system_refuses_is_an_unpack_error(
    case: str, tmp_path: Path, hand_tarball: Path
) -> None:
    if case == "link loop":
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
        target = tmp_path / "a"
    else:
        target = tmp_path / ("x" * 300)
    with pytest.raises(UnpackError, match=str(target)[:40]):
        ensure_ready(str(hand_tarball), str(target), 10)


def test_a_planted_lock_symlink_is_refused(tmp_path: Path, hand_tarball: Path) -> None:
    """Issue 13 item 16: a dangling link in place of the lock file must not make us create
    its target."""
    planted = tmp_path / "elsewhere" / "planted"
    planted.parent.mkdir()
    (tmp_path / "env.poncho.lock").symlink_to(planted)
    with pytest.raises(UnpackError, match="symbolic link"):
        ensure_ready(str(hand_tarball), str(tmp_path / "env"), 10)
    assert not planted.exists()

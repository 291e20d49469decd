"""The one atomic writer and the one rmtree: links written through, devices in place."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from poncho_core import fs


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_new_file_gets_the_umasks_mode_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        written = fs.atomic_write(tmp_path / "new.json", "{}\n")
        assert written == tmp_path / "new.json"
        assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    (tmp_path / "kept").write_text("x")
    (tmp_path / "kept").chmod(0o600)
    fs.atomic_write(tmp_path / "kept", b"new bytes")
    assert (tmp_path / "kept").read_bytes() == b"new bytes"
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError):
        fs.atomic_write(tmp_path / "sub" / "deeper" / "made.json", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "new.json"]
    assert fs.default_file_mode() == 0o666 & ~_umask()


def test_a_link_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "spec.json").write_text("old")
    (tmp_path / "link.json").symlink_to(tmp_path / "real" / "spec.json")
    assert fs.atomic_write(tmp_path / "link.json", "new") == tmp_path / "real" / "spec.json"
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "real" / "spec.json").read_text() == "new"
    (tmp_path / "dangling").symlink_to(tmp_path / "real" / "made.json")
    fs.atomic_write(tmp_path / "dangling", "made")
    assert (tmp_path / "dangling").is_symlink()
    assert (tmp_path / "real" / "made.json").read_text() == "made"


def test_devices_and_pipes_are_written_in_place(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    fs.atomic_write("/dev/null", "nothing")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino  # the very same device node, not a replacement
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    fs.atomic_write(fifo, "through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_folder_is_refused_and_a_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IsADirectoryError):
        fs.atomic_write(tmp_path, "x")

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    (tmp_path / "out").write_text("keep me")
    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        fs.atomic_write(tmp_path / "out", "new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out").read_text() == "keep me"


def test_writable_location(tmp_path: Path) -> None:
    assert fs.writable_location(tmp_path / "a.json") == []
    assert fs.writable_location(tmp_path / "x" / "y" / "a.json") == [
        tmp_path / "x",
        tmp_path / "x" / "y",
    ]
    assert not (tmp_path / "x").exists()
    assert fs.writable_location("/dev/null") == []
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        fs.writable_location(tmp_path / "file" / "a.json")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        fs.writable_location(tmp_path)
    if os.geteuid() != 0:  # root writes anywhere on a writable file system
        (tmp_path / "ro").mkdir(mode=0o555)
        with pytest.raises(PermissionError, match="read-only or no permission"):
            fs.writable_location(tmp_path / "ro" / "a.json")


def test_rmtree_removes_read_only_trees_links_and_nothing(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "sub" / "deeper" / "f").write_text("x")
    (tree / "sub" / "deeper").chmod(0o500)
    (tree / "sub").chmod(0o500)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (tree / "link").symlink_to(outside)
    fs.rmtree(tree)
    assert not tree.exists()
    assert (outside / "keep").exists()
    (tmp_path / "alone").symlink_to(outside)
    fs.rmtree(tmp_path / "alone")
    assert not (tmp_path / "alone").is_symlink() and (outside / "keep").exists()
    fs.rmtree(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    fs.rmtree(tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]


@pytest.fixture
def big_tree(tmp_path: Path) -> tuple[Path, Path]:
    """tmp_path/tree: 40 folders of 20 files, a read-only folder, links to a folder and a
    file of tmp_path/outside (which holds "keep")."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    root = tmp_path / "tree"
    for folder in range(40):
        (root / f"d{folder}" / "sub").mkdir(parents=True)
        for number in range(20):
            (root / f"d{folder}" / "sub" / f"f{number}").write_bytes(b"x" * number)
    (root / "d0" / "sub").chmod(0o500)
    (root / "d1" / "to-outside").symlink_to(outside)
    (root / "d2" / "to-keep").symlink_to(outside / "keep")
    return root, outside


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="the threaded pass needs two cores or more"
)
def test_the_threaded_pass_unlinks_files_only_and_follows_no_link(
    big_tree: tuple[Path, Path],
) -> None:
    from poncho_core._rmfiles import unlink_files

    tree, outside = big_tree
    unlink_files(str(tree))
    entries = {str(p.relative_to(tree)): p for p in tree.rglob("*")}
    folders = {name for name, p in entries.items() if p.is_dir() and not p.is_symlink()}
    left = sorted(set(entries) - folders)
    # what a read-only folder keeps is left for rmtree (root unlinks it), and the link to a
    # folder (never followed); the link to a file is unlinked, not what it names
    kept = [] if os.geteuid() == 0 else [f"d0/sub/f{n}" for n in range(20)]
    assert left == sorted([*kept, "d1/to-outside"])
    assert len(folders) == 80  # every folder stays
    assert (outside / "keep").read_text() == "x"
    fs.rmtree(tree)
    assert not tree.exists() and sorted(p.name for p in outside.iterdir()) == ["keep"]


def test_rmtree_removes_a_big_tree_with_read_only_folders_and_links(
    tmp_path: Path, big_tree: tuple[Path, Path]
) -> None:
    tree, outside = big_tree
    fs.rmtree(tree)
    assert not tree.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]
    assert (outside / "keep").read_text() == "x"


def test_file_sha256_reads_the_whole_file_and_follows_a_link_only_when_asked(
    tmp_path: Path,
) -> None:
    import hashlib

    data = bytes(range(256)) * 9000  # more than one read
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "link").symlink_to(tmp_path / "f")
    assert fs.file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert fs.file_sha256(tmp_path / "link") == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError):
        fs.file_sha256(tmp_path / "link", follow_links=False)

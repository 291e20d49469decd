from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest
from poncho_run.extract import extract

from poncho_run import extract as extract_module
from poncho_run.errors import UnpackError, UnsafeArchive
from poncho_run_helpers import make_tar, member, tree

SYM, LNK, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


@pytest.fixture(autouse=True, params=[1, 4], ids=["one thread", "writer threads"])
def workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test runs with files written by the reading thread and by a pool of threads."""
    monkeypatch.setattr(extract_module, "_workers", lambda: request.param)
    return int(request.param)


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A folder holding only `dest` (the target) and `outside.txt` (must stay untouched)."""
    root = tmp_path / "box"
    (root / "dest").mkdir(parents=True)
    (root / "outside.txt").write_text("untouched")
    return root


def unpack(tmp_path: Path, box: Path, members: list, **kwargs: object) -> Path:
    archive = make_tar(tmp_path / "a.tar.gz", members)
    extract(archive, box / "dest", **kwargs)  # type: ignore[arg-type]
    return box / "dest"


def assert_box_intact(box: Path) -> None:
    assert sorted(p.name for p in box.iterdir()) == ["dest", "outside.txt"]
    assert (box / "outside.txt").read_text() == "untouched"


def test_regular_archive_is_extracted_faithfully(tmp_path: Path, box: Path) -> None:
    members = [
        member("./", kind=DIR),
        member("./bin", kind=DIR, mode=0o755),
        member("./bin/tool", b"#!/bin/sh\n", mode=0o4775),  # setuid + group write dropped
        member("lib/deep/er/mod.py", b"x = 1\n", mode=0o444, mtime=1_500_000_000),
        member("bin/tool-link", kind=SYM, linkname="tool"),
        member("lib/up", kind=SYM, linkname="../bin/tool"),
        member("bin/tool-hard", kind=LNK, linkname="bin/tool"),
        member("twice.txt", b"first"),
        member("twice.txt", b"second"),
        member("was-link", kind=SYM, linkname="bin"),
        member("was-link", b"now a file"),
        member("was-file", b"a file"),
        member("was-file", kind=SYM, linkname="twice.txt"),
    ]
    dest = unpack(tmp_path, box, members)
    tool = dest / "bin" / "tool"
    assert stat.S_IMODE(tool.stat().st_mode) & 0o7777 == 0o755 & ~_umask() | 0o700 & ~_umask()
    assert (dest / "lib/deep/er/mod.py").read_text() == "x = 1\n"
    assert (dest / "lib/deep/er/mod.py").stat().st_mtime == 1_500_000_000
    assert stat.S_IMODE((dest / "lib/deep/er/mod.py").stat().st_mode) & 0o600 == 0o600
    assert os.readlink(dest / "bin/tool-link") == "tool"
    assert (dest / "lib/up").read_bytes() == b"#!/bin/sh\n"
    assert (dest / "bin/tool-hard").stat().st_ino == tool.stat().st_ino
    assert (dest / "twice.txt").read_text() == "second"
    assert not (dest / "was-link").is_symlink() and (dest / "was-link").read_text() == "now a file"
    assert os.readlink(dest / "was-file") == "twice.txt"
    assert_box_intact(box)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_hard_link_to_a_symbolic_link_becomes_a_symbolic_link(tmp_path: Path, box: Path) -> None:
    members = [
        member("a.txt", b"a"),
        member("l", kind=SYM, linkname="a.txt"),
        member("l2", kind=LNK, linkname="l"),
    ]
    dest = unpack(tmp_path, box, members)
    assert os.readlink(dest / "l2") == "a.txt"


def test_a_loop_of_links_inside_the_folder_is_harmless(tmp_path: Path, box: Path) -> None:
    members = [member("a", kind=SYM, linkname="b"), member("b", kind=SYM, linkname="a")]
    dest = unpack(tmp_path, box, members)
    assert os.readlink(dest / "a") == "b"


def test_progress_is_reported_every_thousand_members(tmp_path: Path, box: Path) -> None:
    members = [member(f"f{i}", b"") for i in range(2500)]
    seen: list[int] = []
    unpack(tmp_path, box, members, progress=seen.append)
    assert seen == [1000, 2000]


UNSAFE = {
    "absolute path": [member("/abs.txt", b"x")],
    "dot-dot": [member("../outside.txt", b"overwritten")],
    "dot-dot inside": [member("a/b/../../../outside.txt", b"overwritten")],
    "symlink to an absolute path": [member("etc", kind=SYM, linkname="/etc")],
    "symlink out": [member("out", kind=SYM, linkname="../outside.txt")],
    "symlink out deep": [member("a/b/out", kind=SYM, linkname="../../../outside.txt")],
    "symlink out through another link": [
        member("d/up", kind=SYM, linkname=".."),
        member("esc", kind=SYM, linkname="d/up/../outside.txt"),
    ],
    "link chain, escaping link first": [
        member("k", kind=SYM, linkname="d/../outside.txt"),
        member("d", kind=SYM, linkname="."),
    ],
    "link chain, helper link first": [
        member("d", kind=SYM, linkname="."),
        member("k", kind=SYM, linkname="d/../outside.txt"),
    ],
    "file through a symlink": [
        member("sub", kind=DIR),
        member("lnk", kind=SYM, linkname="sub"),
        member("lnk/file", b"x"),
    ],
    "empty symlink": [member("empty", kind=SYM, linkname="")],
    "symlink replacing a folder": [member("d", kind=DIR), member("d", kind=SYM, linkname="x")],
    "folder through a symlink": [member("l", kind=SYM, linkname="."), member("l/d", kind=DIR)],
    "hardlink to an absolute path": [member("h", kind=LNK, linkname="/etc/passwd")],
    "hardlink out": [member("h", kind=LNK, linkname="../outside.txt")],
    "hardlink to a missing member": [member("h", kind=LNK, linkname="nothere")],
    "hardlink to a folder": [member("d", kind=DIR), member("h", kind=LNK, linkname="d")],
    "hardlink to the root": [member("h", kind=LNK, linkname=".")],
    "hardlink through a symlink": [
        member("d/f", b"x"),
        member("l", kind=SYM, linkname="d"),
        member("h", kind=LNK, linkname="l/f"),
    ],
    "character device": [member("null", kind=tarfile.CHRTYPE)],
    "block device": [member("sda", kind=tarfile.BLKTYPE)],
    "fifo": [member("pipe", kind=tarfile.FIFOTYPE)],
    "unknown type": [member("odd", kind=b"V")],
    "file replacing the root": [member(".", b"x")],
    "file replacing a folder": [member("d/x", b"x"), member("d", b"x")],
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_members_are_refused_by_name(tmp_path: Path, box: Path, case: str) -> None:
    members = UNSAFE[case]
    with pytest.raises(UnsafeArchive) as info:
        unpack(tmp_path, box, members)
    names = {m[0].name for m in members}
    assert info.value.member in names | {n.lstrip("./") for n in names}
    assert repr(info.value.member) in str(info.value)
    assert_box_intact(box)
    for path in tree(box / "dest"):
        target = box / "dest" / path
        if target.is_symlink():
            resolved = target.resolve()
            assert resolved == box / "dest" or (box / "dest") in resolved.parents


def test_a_write_the_file_system_refuses_is_an_unpack_error(tmp_path: Path, box: Path) -> None:
    with pytest.raises(UnpackError, match="'a/b'"):
        unpack(tmp_path, box, [member("a", b"file"), member("a/b", b"x")])


def test_unsafe_archive_error_pickles() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(UnsafeArchive("m", "why")))
    assert (err.member, err.reason) == ("m", "why")


def test_many_small_files_and_repeated_names_come_out_right(tmp_path: Path, box: Path) -> None:
    members = [member(f"d{i % 10}/f{i}", b"%d" % i) for i in range(700)]
    members += [member("d1/f1", b"second"), member("d2/f2", kind=LNK, linkname="d3/f3")]
    members += [member("d4/f4", b"third"), member("d4/f4.link", kind=SYM, linkname="f4")]
    dest = unpack(tmp_path, box, members)
    assert (dest / "d1" / "f1").read_bytes() == b"second"
    assert (dest / "d2" / "f2").read_bytes() == b"3"
    assert os.path.samefile(dest / "d2" / "f2", dest / "d3" / "f3")
    assert (dest / "d4" / "f4.link").read_bytes() == b"third"
    assert (dest / "d9" / "f699").read_bytes() == b"699"
    assert len(tree(dest)) == 10 + 701


def test_an_archive_past_the_size_limit_stops_before_the_file_that_crosses_it(
    tmp_path: Path, box: Path
) -> None:
    """Issue 13 item 21: a small archive of huge files (a bomb) is stopped while streaming."""
    members = [member("a.bin", b"a" * 600), member("b.bin", b"b" * 600)]
    with pytest.raises(UnpackError, match=r"unpacks to more than 1,000 bytes \(at 'b.bin'\)"):
        unpack(tmp_path, box, members, max_bytes=1000)
    assert not (box / "dest" / "b.bin").exists()
    assert_box_intact(box)


def test_the_default_limit_is_the_free_space_less_a_reserve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from poncho_run.extract import MAX_UNPACKED_ENV, unpack_limit

    monkeypatch.delenv(MAX_UNPACKED_ENV, raising=False)
    usage = shutil.disk_usage(tmp_path)
    limit = unpack_limit(tmp_path)
    assert limit is not None and usage.free - (1 << 30) <= limit + (64 << 20) <= usage.free
    monkeypatch.setenv(MAX_UNPACKED_ENV, "2M")
    assert unpack_limit(tmp_path) == 2 << 20
    monkeypatch.setenv(MAX_UNPACKED_ENV, "0")
    assert unpack_limit(tmp_path) is None
    monkeypatch.setenv(MAX_UNPACKED_ENV, "lots")
    with pytest.raises(UnpackError, match=r"PONCHO_RUN_MAX_UNPACKED .*invalid size 'lots'"):
        unpack_limit(tmp_path)

from __future__ import annotations

import os
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from poncho_core import extract as extract_module
from poncho_core.compression import Limits
from poncho_core.errors import LimitExceeded, UnpackError, UnsafeArchive
from poncho_core.extract import extract
from poncho_testing.tars import UNSAFE_MEMBERS, make_tar, member

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


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative (links not followed)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_unsafe_members_are_refused_by_name(tmp_path: Path, box: Path, case: str) -> None:
    """The shared table of malicious members (poncho_testing.tars), also run through
    poncho_package_run and poncho_fetch."""
    members = UNSAFE_MEMBERS[case].members
    with pytest.raises(UnsafeArchive) as info:
        unpack(tmp_path, box, members)
    names = {m[0].name for m in members}
    assert info.value.member in names | {n.lstrip("./") for n in names}
    assert UNSAFE_MEMBERS[case].reason in info.value.reason
    assert repr(info.value.member)[:100] in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "a.tar.gz"))
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


def test_a_refusal_by_a_writer_thread_stops_the_extraction_and_its_threads(
    tmp_path: Path, box: Path
) -> None:
    threads = threading.active_count()
    members = [member(f"d/f{i}", b"%d" % i) for i in range(300)]
    members += [member("d", b"a file over the folder"), member("after", b"x")]
    with pytest.raises(UnsafeArchive, match="replaces a folder") as caught:
        unpack(tmp_path, box, members)
    assert caught.value.member == "d"
    assert threading.active_count() == threads
    unpack(tmp_path, box, members[:300])
    assert threading.active_count() == threads


def test_an_archive_past_the_size_limit_stops_before_the_file_that_crosses_it(
    tmp_path: Path, box: Path
) -> None:
    """Issue 13 item 21: a small archive of huge files (a bomb) is stopped while streaming."""
    members = [member("a.bin", b"a" * 600), member("b.bin", b"b" * 600)]
    with pytest.raises(LimitExceeded, match=r"over the limit of 1,000 bytes"):
        unpack(tmp_path, box, members, limits=Limits(max_bytes=1000))
    assert not (box / "dest" / "b.bin").exists()
    assert_box_intact(box)

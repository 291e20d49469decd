"""Extraction by the index (poncho_core.extract_indexed): the tree `extract` gives, members
in parallel, the same refusals for every hostile member, an index that lies is `BadIndex`,
and a provider's files are placed without decompressing their members."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shutil
import signal
import tarfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from poncho_core import extract_indexed as indexed_module
from poncho_core.compression import Limits
from poncho_core.errors import LimitExceeded, UnsafeArchive
from poncho_core.extract import extract
from poncho_core.extract_indexed import extract_indexed
from poncho_core.tarindex import BadIndex, TarIndex, read_index
from poncho_core.tarindex_write import Entry, IndexedTarWriter
from poncho_testing.tars import (
    SAFE_MEMBERS,
    UNSAFE_MEMBERS,
    drop_record,
    edit_member,
    edit_record,
    make_indexed_tar,
    member,
    tar_bytes,
)

SYM, LNK, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE

#: An environment-like tree in four members; a hard link names a file of another member.
GROUPS = [
    [
        member("bin", kind=DIR, mode=0o755),
        member("bin/python", b"#!/bin/sh\necho python\n", mode=0o755),
        member("bin/python3", kind=SYM, linkname="python"),
        member("lib/libpython.so", os.urandom(1_500_000) + b"end", mode=0o755),  # > 1 MiB
    ],
    [
        member("lib/python3.13/os.py", b"import sys\n" * 5000),
        member("lib/python3.13/same.py", kind=LNK, linkname="bin/python"),
        member("share/up", kind=SYM, linkname="../lib"),
    ],
    [
        member(f"pkgs/p{i}/f{j}.txt", b"%d-%d\n" % (i, j) * (i * 50 + j))
        for i in range(4)
        for j in range(9)
    ],
    [member("empty.txt", b""), member("bin/conda-unpack", b"#!/bin/sh\n", mode=0o755)],
    [member(f"many/f{i}", b"%d" % i) for i in range(150)],  # batches of small files
]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A folder holding only `dest` (the target) and `outside.txt` (must stay untouched)."""
    root = tmp_path / "box"
    (root / "dest").mkdir(parents=True)
    (root / "outside.txt").write_text("untouched")
    return root


def assert_box_intact(box: Path) -> None:
    assert sorted(p.name for p in box.iterdir()) == ["dest", "outside.txt"]
    assert (box / "outside.txt").read_text() == "untouched"


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under `root` with what it is: a folder, a link and its target, a file's
    mode, modification time and digest."""
    found: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = "dir"
        else:
            info = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[rel] = (oct(info.st_mode), info.st_mtime_ns, info.st_nlink, digest)
    return found


def indexed(path: Path, groups: list[Any], **kwargs: Any) -> tuple[Path, TarIndex]:
    make_indexed_tar(path, groups, **kwargs)
    index = read_index(path)
    assert index is not None
    return path, index


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_the_tree_is_the_one_extract_gives(tmp_path: Path, workers: int, compression: str) -> None:
    if compression == "zstd":
        pytest.importorskip("zstandard")
    archive, index = indexed(tmp_path / "env.tar", GROUPS, compression=compression)
    (tmp_path / "seq").mkdir()
    (tmp_path / "par").mkdir()
    count = extract(archive, tmp_path / "seq")
    assert extract_indexed(archive, tmp_path / "par", index, workers=workers) == count
    want = snapshot(tmp_path / "seq")
    assert snapshot(tmp_path / "par") == want
    assert want["lib/python3.13/same.py"][2] == 2  # a hard link to another member's file
    assert want["share/up"] == ("link", "../lib") and "poncho/index.json" in want


def test_the_worker_pool_is_limited_and_gives_the_same_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """workers=1 reads one member at a time, workers=2 two at once (each member is slowed
    down so that they overlap), and both give the same tree."""
    archive, index = indexed(
        tmp_path / "env.tar.gz", GROUPS * 1 + [[member(f"m{i}", b"x")] for i in range(6)]
    )
    running = 0
    most = 0
    lock = threading.Lock()

    class Slow(indexed_module.MemberReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            nonlocal running, most
            super().__init__(*args, **kwargs)
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)

        def close(self) -> None:
            nonlocal running
            with lock:
                running -= 1
            super().close()

    monkeypatch.setattr(indexed_module, "MemberReader", Slow)
    trees = []
    for workers in (1, 2):
        dest = tmp_path / f"w{workers}"
        dest.mkdir()
        most = 0
        extract_indexed(archive, dest, index, workers=workers)
        assert most == workers
        trees.append(snapshot(dest))
    assert trees[0] == trees[1]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("split", [False, True], ids=["one member", "a member each"])
@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_unsafe_members_are_refused_as_extract_refuses_them(
    tmp_path: Path, box: Path, case: str, workers: int, split: bool
) -> None:
    """The shared table of malicious members, in an indexed tarball whose index agrees
    with them (a device gets a `file` record: the index has no type for it)."""
    members = UNSAFE_MEMBERS[case].members
    groups = [[m] for m in members] if split else [members]
    archive, index = indexed(tmp_path / "a.tar.gz", [SAFE_MEMBERS, *groups])
    with pytest.raises(UnsafeArchive) as info:
        extract_indexed(archive, box / "dest", index, workers=workers)
    assert type(info.value) is UnsafeArchive, info.value
    names = {m[0].name for m in members}
    assert info.value.member in names | {n.lstrip("./") for n in names}
    assert UNSAFE_MEMBERS[case].reason in info.value.reason
    assert str(info.value).startswith(str(archive))
    assert_box_intact(box)
    for path in (box / "dest").rglob("*"):
        if path.is_symlink():
            resolved = path.resolve()
            assert resolved == box / "dest" or (box / "dest") in resolved.parents


def _add(path: str) -> Any:
    def edit(index: TarIndex) -> TarIndex:
        files = list(index.files)
        at = max(i for i, f in enumerate(files) if f.member == 1) + 1
        files.insert(at, dataclasses.replace(files[at - 1], path=path))
        return dataclasses.replace(index, files=tuple(files))

    return edit


def _twice(index: TarIndex) -> TarIndex:
    record = next(f for f in index.files if f.path == "empty.txt")
    last = len(index.members) - 1  # in another member, the records still in archive order
    twice = dataclasses.replace(record, member=last)
    return dataclasses.replace(index, files=(*index.files, twice))


def _usize(change: int) -> Any:
    def edit(index: TarIndex) -> TarIndex:
        return edit_member(2, usize=index.members[2].usize + change)(index)

    return edit


def _reordered(index: TarIndex) -> TarIndex:
    return dataclasses.replace(index, files=index.files[-1:] + index.files[:-1])


LIES = {
    "records out of archive order": (_reordered, "not in archive order"),
    "member digest": (edit_member(1, sha256="0" * 64), "does not match its digest"),
    "member usize larger": (_usize(512), "the index says"),
    "member usize smaller": (_usize(-512), "holds more than the"),
    "record path": (edit_record("bin/python", path="bin/pithon"), "where the index says"),
    "record size": (edit_record("lib/python3.13/os.py", size=10), "its size"),
    "record type": (edit_record("empty.txt", type="dir", sha256=""), "its type"),
    "record mode": (edit_record("bin/python", mode=0o600), "its mode"),
    "record link": (edit_record("bin/python3", link="python3.13"), "its link target"),
    "record sha256": (edit_record("empty.txt", sha256="1" * 64), "does not match its sha256"),
    "record for a missing entry": (_add("lib/python3.13/missing.py"), "is in the index, not in"),
    "entry not in the index": (drop_record("share/up"), "which the index does not list"),
    "a path in two members": (_twice, "listed twice"),
}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("lie", sorted(LIES))
def test_an_index_that_lies_is_refused(tmp_path: Path, box: Path, lie: str, workers: int) -> None:
    edit, said = LIES[lie]
    archive, index = indexed(tmp_path / "a.tar.gz", GROUPS, edit=edit)
    with pytest.raises(BadIndex, match=said) as info:
        extract_indexed(archive, box / "dest", index, workers=workers)
    assert str(info.value).startswith(f"{archive}: ")
    assert_box_intact(box)


@pytest.mark.parametrize("lie", ["overlapping offsets", "footer past the end"])
def test_an_index_that_does_not_describe_the_file_is_refused_when_read(
    tmp_path: Path, lie: str
) -> None:
    archive, index = indexed(tmp_path / "a.tar.gz", GROUPS)
    if lie == "overlapping offsets":
        make_indexed_tar(archive, GROUPS, edit=edit_member(1, offset=index.members[1].offset - 10))
    else:
        data = archive.read_bytes()
        archive.write_bytes(data[:100] + data[110:])  # the footer now names bytes past the end
    with pytest.raises(BadIndex, match=str(archive)):
        found = read_index(archive)
        assert found is not None
        (tmp_path / "dest").mkdir()
        extract_indexed(archive, tmp_path / "dest", found)


def test_limits_stop_before_any_write(tmp_path: Path, box: Path) -> None:
    archive, index = indexed(tmp_path / "a.tar.gz", GROUPS)
    with pytest.raises(LimitExceeded, match="the limit of 1,000 bytes"):
        extract_indexed(archive, box / "dest", index, limits=Limits(max_bytes=1000))
    assert list((box / "dest").iterdir()) == []


class Store:
    """A provider of files by digest: copies in a folder (a real store links)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        self.kept: list[str] = []
        self.placed: list[str] = []
        self.refuse = False

    def has(self, sha256: str) -> bool:
        return (self.root / sha256).is_file()

    def place(self, sha256: str, path: str, mode: int) -> bool:
        if self.refuse:
            return False
        assert not os.path.lexists(path) and os.path.isdir(os.path.dirname(path))
        shutil.copyfile(self.root / sha256, path)
        os.chmod(path, mode)
        self.placed.append(path)
        return True

    def keep(self, sha256: str, path: str, mode: int) -> None:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha256
        shutil.copyfile(path, self.root / sha256)
        self.kept.append(path)


def test_a_providers_files_are_placed_without_decompressing_their_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prefix(index: TarIndex) -> TarIndex:  # bin/conda-unpack holds the build prefix
        return edit_record("bin/conda-unpack", prefix=True)(index)

    archive, index = indexed(tmp_path / "env.tar.gz", GROUPS, edit=prefix)
    read: list[str] = []

    class Spy(indexed_module.MemberReader):
        def __init__(self, path: str, compression: str, member: Any, *args: Any, **kw: Any) -> None:
            read.append(member.name)
            super().__init__(path, compression, member, *args, **kw)

    monkeypatch.setattr(indexed_module, "MemberReader", Spy)
    store = Store(tmp_path / "store")
    (tmp_path / "first").mkdir()
    extract_indexed(archive, tmp_path / "first", index, provider=store, workers=2)
    assert sorted(read) == ["m0", "m1", "m2", "m3", "m4", "poncho/index.json"]
    files = [f.path for f in index.files if f.type == "file"]
    assert sorted(store.kept) == sorted(
        str(tmp_path / "first" / p) for p in files if p != "bin/conda-unpack"
    )
    read.clear()
    (tmp_path / "second").mkdir()
    extract_indexed(archive, tmp_path / "second", index, provider=store, workers=2)
    # the member holding a prefix file is decompressed, the others are placed
    assert sorted(read) == ["m3", "poncho/index.json"]
    assert len(store.placed) == len(files) - 2
    assert snapshot_data(tmp_path / "second") == snapshot_data(tmp_path / "first")
    store.refuse = True  # a provider that cannot place: the members are decompressed
    read.clear()
    (tmp_path / "third").mkdir()
    extract_indexed(archive, tmp_path / "third", index, provider=store, workers=1)
    assert sorted(read) == ["m0", "m1", "m2", "m3", "m4", "poncho/index.json"]
    assert snapshot_data(tmp_path / "third") == snapshot_data(tmp_path / "first")


def snapshot_data(root: Path) -> dict[str, Any]:
    """`snapshot` without modification times (a provider's files keep their own)."""
    return {
        k: (v[0], v[3]) if isinstance(v, tuple) and len(v) == 4 else v
        for k, v in snapshot(root).items()
    }


def _handmade(path: Path, raws: list[tuple[bytes, bytes, list[Any]]]) -> tuple[Path, TarIndex]:
    """An indexed tarball of members given as compressed bytes (raw deflate), each with
    the bytes it stands for and the tar entries (`member` tuples) its index records."""
    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, "gzip", 6)
        for number, (raw, plain, members) in enumerate(raws):
            entries = [Entry(info, data=data) for info, data in members]
            for entry in entries:
                if entry.data is not None:
                    entry.sha256 = hashlib.sha256(entry.data).hexdigest()
            sha = hashlib.sha256(raw).hexdigest()
            writer.append(
                f"m{number}", io.BytesIO(raw), len(raw), usize=len(plain), sha256=sha,
                entries=entries, crc32=zlib.crc32(plain),
            )  # fmt: skip
        writer.finish(1_600_000_000)
    index = read_index(path)
    assert index is not None
    return path, index


def _segment(data: bytes, *, final: bool = False) -> bytes:
    """`data` as a member of an indexed gzip stream (raw deflate, a full flush at its end),
    or ended by a final block (which no member may hold)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH
    )


def _tar(members: list[Any], end: bool = False) -> bytes:
    data = tar_bytes(members)  # tarfile's: entries, then the end marker and padding
    if end:
        return data
    entries = data.rstrip(b"\0")  # the test's data ends with no zero byte
    return entries + bytes(-len(entries) % 512)


@pytest.mark.parametrize(
    "shape",
    ["end marker in a member", "a final block in a member", "damaged header", "file then folder"],
)
def test_members_that_are_not_what_the_index_says(tmp_path: Path, box: Path, shape: str) -> None:
    one, two = [member("a.txt", b"a" * 600)], [member("b.txt", b"b")]
    if shape == "end marker in a member":
        plain = _tar(one, end=True)
        raws = [(_segment(plain), plain, one)]
        said = "holds more than the index lists"
    elif shape == "a final block in a member":
        first, second = _tar(one), _tar(two)
        raws = [(_segment(first, final=True) + _segment(second), first + second, one + two)]
        said = "not one complete member"
    elif shape == "damaged header":
        data = bytearray(_tar(one + two))
        data[1536 + 3] ^= 1  # b.txt's header, after a.txt's header and data
        raws = [(_segment(bytes(data)), bytes(data), one + two)]
        said = "bad header checksum"
    else:
        three = [member("a.txt/c", b"c")]
        raws = [
            (_segment(_tar(one)), _tar(one), one),
            (_segment(_tar(three)), _tar(three), three),
        ]
        said = "goes through 'a.txt', not a folder"
    archive, index = _handmade(tmp_path / "a.tar.gz", raws)
    with pytest.raises(UnsafeArchive, match=said):
        extract_indexed(archive, box / "dest", index, workers=1)
    assert_box_intact(box)


def test_an_archive_changed_since_its_index_was_read_is_refused(tmp_path: Path, box: Path) -> None:
    archive, index = indexed(tmp_path / "a.tar.gz", GROUPS)
    make_indexed_tar(archive, GROUPS, edit=edit_record("bin/python", mode=0o700))
    with pytest.raises(BadIndex, match="index member changed after it was read"):
        extract_indexed(archive, box / "dest", index)
    assert_box_intact(box)


def test_a_signal_stops_the_members_and_leaves_no_thread_writing(
    tmp_path: Path, box: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception in the main thread while members are extracted (SIGTERM becomes one in
    poncho_package_run) reaches the caller only once no thread writes into the folder."""
    groups = [[member(f"g{g}/f{i}", b"x" * 100) for i in range(20)] for g in range(8)]
    archive, index = indexed(tmp_path / "a.tar.gz", groups)

    class Slow(indexed_module.MemberReader):
        def read(self, size: int) -> bytes:
            time.sleep(0.002)
            return super().read(size)

    monkeypatch.setattr(indexed_module, "MemberReader", Slow)

    class Stop(Exception):
        pass

    def alarm(signum: int, frame: object) -> None:
        raise Stop

    threads = threading.active_count()
    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Stop):
            extract_indexed(archive, box / "dest", index, workers=2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # none alive (Python 3.10 may keep a thread its interrupted join saw end in the count)
    alive = [t.name for t in threading.enumerate() if t.is_alive()]
    assert len(alive) == threads, alive
    written = snapshot(box / "dest")
    time.sleep(0.1)
    assert snapshot(box / "dest") == written  # nothing still writing
    assert len([p for p in written if p.startswith("g")]) < 8 * 21

"""The indexed tarball layout (poncho_core.tarindex, tarindex_write): what its writer gives
reads back through its index, through GNU tar, tarfile and poncho-core's own stream reader;
a footer whose index lies is refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from poncho_core.tarindex import (
    GZIP_FOOTER,
    ZSTD_FOOTER,
    BadIndex,
    TarIndex,
    read_index,
    read_member,
)
from poncho_core.tarindex_write import Entry, IndexedTarWriter, member_key
from poncho_core.tarstream import open_tar

EPOCH = 315532800


def _entries(group: int) -> list[Entry]:
    folder = tarfile.TarInfo(f"d{group}")
    folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, EPOCH
    entries = [Entry(folder)]
    for i in range(3):
        data = f"member {group} file {i}\n".encode() * (300 * i + 1)
        info = tarfile.TarInfo(f"d{group}/f{i}.txt")
        info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
        entries.append(Entry(info, data=data, sha256=hashlib.sha256(data).hexdigest()))
    link = tarfile.TarInfo(f"d{group}/link")
    link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "f0.txt", EPOCH
    entries.append(Entry(link))
    return entries


def _write(
    path: Path, compression: str, groups: int = 3, edit: Callable[[TarIndex], Any] | None = None
) -> None:
    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, compression, 6)
        for group in range(groups):
            entries = _entries(group)
            writer.add(f"g{group}", entries, member_key(entries, compression, 6))
        writer.finish(EPOCH, edit=edit)


COMPRESSIONS = ["gzip", "zstd"]


@pytest.fixture(params=COMPRESSIONS)
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    compression = request.param
    if compression == "zstd":
        pytest.importorskip("zstandard")
    path = tmp_path / f"env.tar.{'gz' if compression == 'gzip' else 'zst'}"
    _write(path, compression)
    return path, compression


def test_index_reads_back_what_was_written(archive: tuple[Path, str]) -> None:
    path, compression = archive
    index = read_index(path)
    assert index is not None and index.compression == compression
    assert [m.name for m in index.members] == ["g0", "g1", "g2"]
    assert [f.path for f in index.member_files(1)] == [
        "d1", "d1/f0.txt", "d1/f1.txt", "d1/f2.txt", "d1/link"
    ]  # fmt: skip
    record = index.files[2]
    assert (record.type, record.size) == ("file", len(b"member 0 file 1\n") * 301)
    data = read_member(path, index, 1)
    assert len(data) == index.members[1].usize and data.startswith(b"d1/")


def test_every_reader_reads_it_as_one_stream(archive: tuple[Path, str], tmp_path: Path) -> None:
    path, compression = archive
    with open_tar(path, use_programs=False) as reader:
        names = [m.name for m in reader]
    assert names[-1] == "poncho/index.json" and len(names) == 16
    if compression == "gzip":
        with tarfile.open(path) as tar:
            assert tar.getnames() == names
    flag = "-z" if compression == "gzip" else "--zstd"
    if compression == "zstd" and shutil.which("zstd") is None:
        return
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", flag, "-xf", str(path), "-C", str(out)], check=True)
    assert (out / "d2" / "f2.txt").read_bytes() == b"member 2 file 2\n" * 601
    assert (out / "d2" / "link").readlink() == Path("f0.txt")


def test_same_entries_give_the_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "a.tar.gz", "gzip")
    _write(tmp_path / "b.tar.gz", "gzip")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


def test_an_archive_without_footer_has_no_index(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as tar:
        tar.add(__file__, "x.py")
    assert read_index(plain) is None
    (tmp_path / "text").write_text("not an archive")
    assert read_index(tmp_path / "text") is None


@pytest.mark.parametrize(
    "damage",
    ["member byte", "footer offset", "truncated", "index digest", "member usize"],
)
def test_a_lying_index_is_refused(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "env.tar.gz"
    _write(path, "gzip")
    data = bytearray(path.read_bytes())
    index = read_index(path)
    assert index is not None
    if damage == "member byte":
        data[index.members[1].offset + 20] ^= 0xFF
    elif damage == "footer offset":
        tail = len(data) - GZIP_FOOTER + 12 + 4 + 15  # last hex digit of the offset
        data[tail] = ord("0") if data[tail] != ord("0") else ord("1")
    elif damage == "truncated":
        del data[index.members[2].offset + 5 : index.members[2].offset + 9]
    path.write_bytes(bytes(data))
    if damage in ("index digest", "member usize"):
        _write(path, "gzip", edit=lambda index: _lie(index, damage))
    with pytest.raises(BadIndex, match=str(path)):
        found = read_index(path)
        assert found is not None
        for number in range(len(found.members)):
            read_member(path, found, number)


def _lie(index: TarIndex, damage: str) -> TarIndex:
    """`index` lying about member 1."""
    import dataclasses

    members = list(index.members)
    if damage == "index digest":
        members[1] = dataclasses.replace(members[1], sha256="0" * 64)
    else:
        members[1] = dataclasses.replace(members[1], usize=members[1].usize + 512)
    return dataclasses.replace(index, members=tuple(members))


def test_footer_sizes_are_fixed() -> None:
    from poncho_core.tarindex import footer

    assert len(footer("gzip", 1, 2)) == GZIP_FOOTER == 66
    assert len(footer("zstd", 1, 2)) == ZSTD_FOOTER == 48


def test_fields_a_later_version_adds_are_ignored(tmp_path: Path) -> None:
    import json

    path = tmp_path / "env.tar.gz"
    _write(path, "gzip", groups=1)
    index = read_index(path)
    assert index is not None

    def more(index: TarIndex) -> bytes:
        document = json.loads(index.to_json())
        document["members"][0]["future"] = 1
        document["files"][0]["future"] = "x"
        return json.dumps(document).encode()

    _write(path, "gzip", groups=1, edit=more)
    again = read_index(path)
    assert again is not None and again.members == index.members and again.files == index.files


def test_member_entries_reads_a_member_with_the_one_tar_reader(archive: tuple[Path, str]) -> None:
    from poncho_core.tarstream import member_entries

    path, _compression = archive
    index = read_index(path)
    assert index is not None
    data = read_member(path, index, 2)
    entries = list(member_entries(data, index.members[2], str(path)))
    assert [e.name for e, _ in entries] == [f.path for f in index.member_files(2)]
    assert entries[3][1] == b"member 2 file 2\n" * 601
    assert entries[0][1] == b"" and entries[4][0].linkname == "f0.txt"


@pytest.mark.parametrize("damage", ["cut", "zero block", "garbage", "end marker"])
def test_member_entries_refuses_what_is_not_whole_entries(tmp_path: Path, damage: str) -> None:
    from poncho_core.tarstream import member_entries

    path = tmp_path / "env.tar.gz"
    _write(path, "gzip")
    index = read_index(path)
    assert index is not None
    data = read_member(path, index, 0)
    damaged = {
        "cut": data[:-1024],  # the last file's data ends early
        "zero block": data[:512] + bytes(512) + data[512:],  # entries after an end marker
        "garbage": b"x" * 512 + data,
        "end marker": data + bytes(1024),  # a member holds no end marker
    }[damage]
    with pytest.raises(BadIndex, match=f"{path}: member g0 "):
        list(member_entries(damaged, index.members[0], str(path)))


def test_a_large_gzip_member_is_the_same_on_any_number_of_threads(tmp_path: Path) -> None:
    import io
    import random
    import zlib

    from poncho_core.tarindex_write import compress_member

    rnd = random.Random(7)
    data = rnd.randbytes(300_000) + b"text " * 200_000 + rnd.randbytes(5)  # 5 blocks and a bit
    info = tarfile.TarInfo("big.bin")
    info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
    outs = []
    for threads in (1, 2, 3):
        out = io.BytesIO()
        usize, size, sha, crc = compress_member(
            [Entry(info, data=data)], "gzip", 6, out, threads=threads
        )
        outs.append(out.getvalue())
        assert size == len(out.getvalue()) and sha == hashlib.sha256(out.getvalue()).hexdigest()
    assert outs[0] == outs[1] == outs[2]
    raw = zlib.decompressobj(-15).decompress(outs[0])  # a member: raw deflate, flushed
    assert outs[0].endswith(b"\x00\x00\xff\xff") and zlib.crc32(raw) == crc
    assert len(raw) == usize and raw[512 : 512 + len(data)] == data


def test_python_tarfile_reads_it_in_stream_mode(tmp_path: Path) -> None:
    """An indexed tar.gz is one gzip stream: ``tarfile``'s stream mode (``r|gz``), which
    reads a single gzip member, sees every entry, and gzip checks the stream's CRC-32
    (the members' combined) and size."""
    import gzip

    path = tmp_path / "env.tar.gz"
    _write(path, "gzip")
    with tarfile.open(path, "r|gz") as tar:
        names = [m.name for m in tar]
    assert len(names) == 16 and names[-1] == "poncho/index.json"
    with gzip.open(path) as stream:  # raises BadGzipFile on a wrong CRC or size
        assert len(stream.read()) > 0
    subprocess.run(["gzip", "-t", str(path)], check=True)


def test_a_zstd_index_without_a_decompressor_is_unsupported_not_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No zstd module: the index cannot be read, which is this machine's limit, not a lie of
    the archive (poncho-run then reads the stream with the zstd program)."""
    import sys

    from poncho_core.errors import UnsupportedArchive

    pytest.importorskip("zstandard")
    path = tmp_path / "env.tar.zst"
    _write(path, "zstd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    with pytest.raises(UnsupportedArchive) as caught:
        read_index(path)
    assert not isinstance(caught.value, BadIndex)

"""The fast tar reader against the standard library's, on archives of every format."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from poncho_core._tar import BLOCK, TarError, TarReader

LONG = "deep/" * 30 + "name-longer-than-a-hundred-characters.py"


def sample_members() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    def info(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mtime = 1_600_000_000
        for key, value in attrs.items():
            setattr(ti, key, value)
        return ti

    return [
        (info("dir", tarfile.DIRTYPE, mode=0o755), None),
        (info("dir/empty.txt", size=0), b""),
        (info("dir/block.bin", size=BLOCK), bytes(range(256)) * 2),
        (info("dir/odd.txt", size=1001, mode=0o640, mtime=1_500_000_000.25), b"x" * 1001),
        (info(LONG, size=3), b"abc"),
        (info("unicodé/名前.txt", size=2), b"hi"),
        (info("dir/link", tarfile.SYMTYPE, linkname="odd.txt"), None),
        (info("dir/longlink", tarfile.SYMTYPE, linkname="../" + LONG), None),
        (info("dir/hard", tarfile.LNKTYPE, linkname="dir/odd.txt"), None),
        (info("big-owner.txt", size=1, uid=10**9, gid=10**9), b"o"),
    ]


def write_python_tar(path: Path, fmt: int) -> Path:
    members = sample_members()
    if fmt == tarfile.USTAR_FORMAT:  # no long names, no unicode, no big numbers in ustar
        members = [
            (ti, data)
            for ti, data in members
            if len(ti.name) < 100 and ti.name.isascii() and len(ti.linkname) < 100 and ti.uid < 8**7
        ]
        for ti, _ in members:
            ti.mtime = int(ti.mtime)
    with tarfile.open(
        path,
        "w",
        format=fmt,
        pax_headers={"comment": "global"} if fmt == tarfile.PAX_FORMAT else None,
    ) as tar:
        for ti, data in members:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def describe_with_tarfile(path: Path) -> list[tuple[object, ...]]:
    out = []
    with tarfile.open(path, "r:") as tar:
        for ti in tar:
            data = tar.extractfile(ti).read() if ti.isreg() else None  # type: ignore[union-attr]
            kind = tarfile.REGTYPE if ti.isreg() else ti.type
            out.append(
                (
                    ti.name,
                    kind,
                    ti.mode,
                    int(ti.mtime),
                    ti.size if ti.isreg() else 0,
                    ti.linkname,
                    data,
                )
            )
    return out


def describe_with_reader(path: Path) -> list[tuple[object, ...]]:
    out = []
    with open(path, "rb") as stream:
        reader = TarReader(stream.read)
        for m in reader:
            data = reader.read_data(m.size) if m.isreg() else None
            kind = tarfile.REGTYPE if m.isreg() else m.type
            out.append(
                (m.name, kind, m.mode, int(m.mtime), m.size if m.isreg() else 0, m.linkname, data)
            )
    return out


@pytest.mark.parametrize(
    "fmt",
    [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
    ids=["ustar", "gnu", "pax"],
)
def test_python_written_archives_read_the_same(tmp_path: Path, fmt: int) -> None:
    path = write_python_tar(tmp_path / "a.tar", fmt)
    expected = describe_with_tarfile(path)
    assert describe_with_reader(path) == expected
    assert len(expected) >= 6


@pytest.fixture(scope="module")
def tree_to_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "deeper" / "file.txt").write_text("content\n" * 100)
    (root / "exec.sh").write_text("#!/bin/sh\n")
    (root / "exec.sh").chmod(0o755)
    (root / "sub" / "link").symlink_to("../exec.sh")
    (root / "hard.sh").hardlink_to(root / "exec.sh")
    long_dir = root / ("d" * 60) / ("e" * 60)
    long_dir.mkdir(parents=True)
    (long_dir / "file-in-a-long-path.txt").write_text("long")
    return root


@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar", "v7", "oldgnu"])
def test_gnu_tar_archives_read_the_same(tmp_path: Path, tree_to_pack: Path, fmt: str) -> None:
    if shutil.which("tar") is None:
        pytest.skip("no tar program")
    path = tmp_path / "a.tar"
    members = ["exec.sh", "hard.sh", "sub"]
    if fmt != "v7":  # v7 cannot hold names over 99 characters
        members.append("d" * 60)
    subprocess.run(
        ["tar", f"--format={fmt}", "-cf", str(path), "-C", str(tree_to_pack), *members], check=True
    )
    assert describe_with_reader(path) == describe_with_tarfile(path)


def test_an_archive_cut_between_two_members_is_refused() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        ti = tarfile.TarInfo("a")
        ti.size = 1
        tar.addfile(ti, io.BytesIO(b"a"))
    data = buf.getvalue()[: 2 * BLOCK]  # header + data block, no end-of-archive blocks
    reader = TarReader(io.BytesIO(data).read)
    with pytest.raises(TarError, match="no end-of-archive marker"):
        list(reader)


def one_member_archive(name: str = "file", data: bytes = b"hello") -> bytearray:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
    return bytearray(buf.getvalue())


def read_all(data: bytes) -> list[str]:
    reader = TarReader(io.BytesIO(bytes(data)).read)
    names = []
    for m in reader:
        reader.read_data(m.size)
        names.append(m.name)
    return names


def test_a_damaged_header_is_refused() -> None:
    data = one_member_archive()
    data[0] = ord("X")  # the name changes, the checksum does not
    with pytest.raises(TarError, match="checksum"):
        read_all(data)


@pytest.mark.parametrize("cut", [100, BLOCK + 2])
def test_a_truncated_archive_is_refused(cut: int) -> None:
    with pytest.raises(TarError, match="unexpected end"):
        read_all(one_member_archive()[:cut])


def test_an_invalid_number_is_refused() -> None:
    data = one_member_archive()
    data[124:136] = b"12345678zz1\0"
    chksum = 256 + sum(data[:148]) + sum(data[156:BLOCK])
    data[148:156] = b"%06o\0 " % chksum
    with pytest.raises(TarError, match="invalid number"):
        read_all(data)


def pax_archive(records: bytes) -> bytes:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = len(records)
    block = header.tobuf(tarfile.USTAR_FORMAT)
    padding = bytes(-len(records) % BLOCK)
    return block + records + padding + bytes(one_member_archive())


@pytest.mark.parametrize(
    "records",
    [b"12 path=x\n", b"zz path=x\n", b"11 pathx\nyy", b"9 size=z\n", b"30 GNU.sparse.major=1\n"],
)
def test_invalid_or_sparse_pax_headers_are_refused(records: bytes) -> None:
    with pytest.raises(TarError):
        read_all(pax_archive(records))


def test_pax_path_and_global_headers_apply() -> None:
    assert read_all(pax_archive(b"17 path=from-pax\n")) == ["from-pax"]


def test_sparse_gnu_members_are_refused() -> None:
    data = one_member_archive()
    data[156:157] = b"S"
    chksum = 256 + sum(data[:148]) + sum(data[156:BLOCK])
    data[148:156] = b"%06o\0 " % chksum
    with pytest.raises(TarError, match="sparse"):
        read_all(data)


def test_negative_base_256_numbers() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        ti = tarfile.TarInfo("old")
        ti.mtime = -(10**12)
        tar.addfile(ti)
    (member,) = TarReader(io.BytesIO(buf.getvalue()).read)
    assert member.mtime == -(10**12)
    assert "old" in repr(member)

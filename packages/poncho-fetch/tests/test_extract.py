from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import FetchError, LimitExceeded, UnsafeArchive, extract
from poncho_fetch.extract import (
    decompress_file,
    decompressed_name,
    normalize_compression,
    safe_extract,
    sniff_compression,
)


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def _entry(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755
    return info, None


def _compress(data: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


@pytest.fixture(params=["stdlib filter", "own checks only"])
def filter_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with the standard library's "data" filter, and as on a Python without it."""
    if request.param == "own checks only" and hasattr(tarfile, "data_filter"):
        monkeypatch.delattr(tarfile, "data_filter")
    return str(request.param)


SAMPLE = [
    _entry("top", tarfile.DIRTYPE),
    _file("top/a.txt", b"alpha\n"),
    _file("top/sub/b.txt", b"beta\n", 0o6777),
    _entry("top/link", tarfile.SYMTYPE, "a.txt"),
    _entry("top/hard", tarfile.LNKTYPE, "top/a.txt"),
]


@pytest.mark.filterwarnings("ignore:.*filter:DeprecationWarning")
@pytest.mark.parametrize("kind", ["plain", "gzip", "bzip2", "xz", "zstd"])
def test_extracts_every_compression_by_content(tmp_path: Path, kind: str, filter_mode: str) -> None:
    if kind == "zstd":
        pytest.importorskip("zstandard")
    archive = tmp_path / "x.bin"
    archive.write_bytes(_compress(_tar_bytes(SAMPLE), kind))
    # The hint is deliberately wrong: content decides.
    safe_extract(archive, tmp_path / "out", hint="xz" if kind != "xz" else "gzip")
    top = tmp_path / "out" / "top"
    assert (top / "a.txt").read_text() == "alpha\n"
    assert (top / "sub" / "b.txt").read_text() == "beta\n"
    assert os.readlink(top / "link") == "a.txt"
    assert (top / "hard").read_text() == "alpha\n"
    mode = (top / "sub" / "b.txt").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_file("/etc/evil"), "absolute path"),
        (_file("../evil"), "'..'"),
        (_file("a/../../evil"), "'..'"),
        (_entry("l", tarfile.SYMTYPE, "/etc/passwd"), "absolute path"),
        (_entry("d/l", tarfile.SYMTYPE, "../../outside"), "symbolic link out"),
        (_entry("h", tarfile.LNKTYPE, "../outside"), "'..'"),
        (_entry("dev", tarfile.CHRTYPE), "device"),
        (_entry("fifo", tarfile.FIFOTYPE), "device"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*filter:DeprecationWarning")
def test_refuses_unsafe_members(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], message: str, filter_mode: str
) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar_bytes([_file("ok.txt"), member]))
    with pytest.raises(UnsafeArchive, match=message):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "outside").exists()


@pytest.mark.filterwarnings("ignore:.*filter:DeprecationWarning")
def test_refuses_writing_through_a_link_made_by_an_earlier_member(
    tmp_path: Path, filter_mode: str
) -> None:
    (tmp_path / "outside").mkdir()
    # "d" points inside at first sight ("x/.." is the folder itself) ...
    members = [
        _entry("x", tarfile.DIRTYPE),
        _entry("x/up", tarfile.SYMTYPE, ".."),
        # ... then a link whose target goes through the first link: out of the folder.
        _entry("esc", tarfile.SYMTYPE, "x/up/../outside"),
        _file("esc/pwned.txt"),
    ]
    archive = tmp_path / "chain.tar"
    archive.write_bytes(_tar_bytes(members))
    with pytest.raises(UnsafeArchive):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "outside" / "pwned.txt").exists()


def test_corrupt_archive_is_a_fetch_error(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes(SAMPLE))[:-40])
    with pytest.raises(FetchError, match=r"bad\.tar\.gz: cannot extract"):
        safe_extract(archive, tmp_path / "out")


def test_not_a_tar_is_a_fetch_error(tmp_path: Path) -> None:
    archive = tmp_path / "x.tar"
    archive.write_bytes(b"hello, I am not a tar file" * 40)
    with pytest.raises(FetchError, match="cannot extract"):
        safe_extract(archive, tmp_path / "out")


def test_decompress_file(tmp_path: Path) -> None:
    src = tmp_path / "x.xz"
    src.write_bytes(lzma.compress(b"payload"))
    decompress_file(src, tmp_path / "x", "xz")
    assert (tmp_path / "x").read_bytes() == b"payload"
    # Uncompressed content with a compression hint: copied as is.
    plain = tmp_path / "plain.gz"
    plain.write_bytes(b"already plain")
    decompress_file(plain, tmp_path / "plain", "gzip")
    assert (tmp_path / "plain").read_bytes() == b"already plain"


def test_decompress_corrupt_file(tmp_path: Path) -> None:
    src = tmp_path / "x.gz"
    src.write_bytes(gzip.compress(b"payload" * 1000)[:-30])
    with pytest.raises(FetchError, match=r"x\.gz: cannot decompress"):
        decompress_file(src, tmp_path / "x", "gzip")


def test_zstd_without_zstandard_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "x.zst"
    src.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(FetchError, match="install the 'zstandard' package"):
        decompress_file(src, tmp_path / "x")


def test_sniff_and_names() -> None:
    assert sniff_compression(gzip.compress(b"")) == "gzip"
    assert sniff_compression(bz2.compress(b"")) == "bzip2"
    assert sniff_compression(lzma.compress(b"")) == "xz"
    assert sniff_compression(b"\x28\xb5\x2f\xfdxxxx") == "zstd"
    assert sniff_compression(b"plain") is None
    assert normalize_compression(None) is None
    assert normalize_compression(" none ") is None
    assert normalize_compression("GZ") == "gzip"
    assert normalize_compression("bz2") == "bzip2"
    assert normalize_compression("brotli") == "brotli"
    assert decompressed_name("a.tgz") == "a.tar"
    assert decompressed_name("a.csv.gz") == "a.csv"
    assert decompressed_name("a.ZST") == "a"
    assert decompressed_name(".gz") == ".gz"
    assert decompressed_name("data") == "data"


# -- hostile input (issue 13) ------------------------------------------------------------


def _pax_tar(path: Path, name: str, pax: dict[str, str], data: bytes = b"x") -> Path:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.pax_headers = pax
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("mtime", ["nan", "inf", "-inf", "1e400", "-5"])
def test_a_pax_mtime_that_is_no_time_becomes_zero(tmp_path: Path, mtime: str) -> None:
    # Issue 13 item 19: ValueError / OverflowError from utime().
    archive = _pax_tar(tmp_path / "a.tar", "f.txt", {"mtime": mtime})
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "f.txt").read_bytes() == b"x"
    assert (tmp_path / "out" / "f.txt").stat().st_mtime == 0


def test_a_huge_base_256_mtime_becomes_zero(tmp_path: Path) -> None:
    info = tarfile.TarInfo("f.txt")
    info.size, info.mtime = 1, 2**80
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"x"))
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "f.txt").stat().st_mtime == 0


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a/" * 2000 + "f", "path longer than 4000 bytes"),
        ("a/" * 300 + "f", "path deeper than 256 folders"),
        ("a\x00b", "empty or invalid name"),
    ],
)
def test_member_paths_no_file_system_takes_are_refused(tmp_path: Path, name: str, why: str) -> None:
    archive = _pax_tar(tmp_path / "a.tar", "placeholder", {"path": name})
    with pytest.raises(UnsafeArchive, match=why):
        safe_extract(archive, tmp_path / "out")


def test_a_symlink_loop_is_refused_not_a_traceback(tmp_path: Path) -> None:
    a, b = tarfile.TarInfo("a"), tarfile.TarInfo("b")
    a.type = b.type = tarfile.SYMTYPE
    a.linkname, b.linkname = "b", "a"
    archive = tmp_path / "loop.tar"
    archive.write_bytes(_tar_bytes([(a, None), (b, None), _file("a/x")]))
    with pytest.raises(FetchError, match=r"^loop\.tar: "):  # UnsafeArchive on 3.10-3.12
        safe_extract(archive, tmp_path / "out")


_ZEROS = b"\0" * (8 << 20)


@pytest.mark.parametrize(
    "compress", [gzip.compress, bz2.compress, lzma.compress], ids=["gzip", "bzip2", "xz"]
)
def test_a_decompression_bomb_stops_at_the_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: Any
) -> None:
    # Issue 13 item 21: 8 MiB of zeros from a few KiB; the floor is lowered to 1 MiB here.
    monkeypatch.setattr(extract, "RATIO_FLOOR", 1 << 20)
    src = tmp_path / "bomb.gz"
    src.write_bytes(compress(_ZEROS))
    with pytest.raises(LimitExceeded, match=r"^bomb\.gz: decompressed size over 100 times"):
        decompress_file(src, tmp_path / "out", name="bomb.gz")
    assert (tmp_path / "out").stat().st_size <= 2 << 20  # stopped near the limit
    decompress_file(src, tmp_path / "out", max_ratio=0)  # 0: no ratio limit
    assert (tmp_path / "out").stat().st_size == len(_ZEROS)


def test_max_bytes_is_a_hard_limit_while_decompressing(tmp_path: Path) -> None:
    src = tmp_path / "z.gz"
    src.write_bytes(gzip.compress(_ZEROS))
    with pytest.raises(LimitExceeded, match="the 1048576 byte limit of one entry"):
        decompress_file(src, tmp_path / "out", max_bytes=1 << 20, max_ratio=None)


def test_a_tar_bomb_stops_at_the_ratio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "RATIO_FLOOR", 1 << 20)
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(gzip.compress(_tar_bytes([_file("zeros", _ZEROS)])))
    with pytest.raises(LimitExceeded, match=r"bomb\.tar\.gz: .*100 times its compressed size"):
        safe_extract(archive, tmp_path / "out", name="bomb.tar.gz")


def test_member_sizes_count_against_max_bytes_before_writing(tmp_path: Path) -> None:
    # A sparse or huge member is refused from its header, before a byte of it is written.
    archive = tmp_path / "big.tar"
    archive.write_bytes(_tar_bytes([_file("small", b"x" * 10), _file("big", _ZEROS)]))
    with pytest.raises(LimitExceeded, match=r"tar member 'big': total unpacked size over"):
        safe_extract(archive, tmp_path / "out", max_bytes=1 << 20, max_ratio=None)
    assert not (tmp_path / "out" / "big").exists()

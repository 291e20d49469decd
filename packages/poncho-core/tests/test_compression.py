"""Compressed data recognised by its bytes and read through the format's program or
in-process, corrupt input refused on both paths, and limits enforced while streaming."""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import os
import random
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from poncho_core import compression
from poncho_core.compression import (
    COMPRESSIONS,
    RATIO_FLOOR,
    Limits,
    decompressed_name,
    is_tar,
    normalize_compression,
    open_decompressed,
    sniff,
)
from poncho_core.errors import LimitExceeded, PonchoError, UnsupportedArchive


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": _zstd,
}


@functools.cache
def compressed(kind: str, data: bytes) -> bytes:
    """`data` compressed by the standard library (or zstandard), made once per run."""
    return _COMPRESSORS[kind](data)


SUFFIX = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}

# More than one read buffer (1 MiB) of output, part incompressible, part repetitive.
PAYLOAD = random.Random(7).randbytes(300_000) + b"".join(
    b"line %d of poncho\n" % i for i in range(50_000)
)
MiB = 1 << 20


def needs(program: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"needs the {program} program")


def program_param(kind: str) -> object:
    return pytest.param(kind, marks=needs(kind))


class Spy:
    """A folder put alone on PATH with a wrapper for each decompressor program: it logs
    its pid and arguments, then execs the real program (same pid)."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir()
        self.log = folder / "spy.log"
        for program in COMPRESSIONS:
            real = shutil.which(program)
            if real is None:
                continue
            script = self.bin / program
            script.write_text(
                f'#!/bin/sh\necho "$$ ${{0##*/}} $*" >> "{self.log}"\nexec "{real}" "$@"\n'
            )
            script.chmod(0o755)
        monkeypatch.setenv("PATH", str(self.bin))

    def calls(self) -> list[tuple[int, str, list[str]]]:
        """(pid, program, arguments) of each run."""
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            pid, program, *args = line.split(" ")
            found.append((int(pid), program, args))
        return found


@pytest.fixture
def spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(tmp_path, monkeypatch)


@pytest.fixture
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decompression must then happen in this process."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a program was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path | str, **kwargs: object) -> bytes:
    with open_decompressed(path, **kwargs) as stream:  # type: ignore[arg-type]
        return stream.read()


def zeros_bomb(mib: int) -> bytes:
    """A gzip of `mib` MiB of zeros, as that many gzip members of 1 MiB each (about a
    thousandth of that size): cheap to make, a valid gzip file for every reader."""
    return gzip.compress(bytes(MiB), compresslevel=9, mtime=0) * mib


# --- recognising data -------------------------------------------------------------------


@pytest.mark.parametrize("kind", COMPRESSIONS)
def test_sniff_knows_each_format_by_its_first_bytes(kind: str) -> None:
    data = compressed(kind, b"some data")
    assert sniff(data[:8]) == kind
    assert sniff(data) == kind
    assert kind in COMPRESSIONS


def test_sniff_says_none_for_data_that_is_not_compressed() -> None:
    assert sniff(b"") is None
    assert sniff(b"plain text") is None
    assert sniff(b"\x1f") is None  # half a gzip magic
    assert sniff(b"\x28\xb5\x2f") is None
    assert sniff(b"\xfd7zXZ") is None  # the xz magic is six bytes
    assert sniff(b"BZ") is None
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        archive.addfile(tarfile.TarInfo("empty"))
    assert sniff(tar.getvalue()[:8]) is None


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_is_tar_knows_a_tar_header(fmt: int) -> None:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=fmt) as archive:
        info = tarfile.TarInfo("file.txt")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    assert is_tar(tar.getvalue()[:512])


def test_is_tar_says_no_to_other_data() -> None:
    assert not is_tar(b"")
    assert not is_tar(b"x" * 512)
    assert not is_tar(bytes(512))  # the end-of-archive block is no header
    assert not is_tar(gzip.compress(bytes(1024)))
    assert not is_tar(b"\0" * 257 + b"usta")


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (None, None),
        ("", None),
        ("none", None),
        (" None ", None),
        ("identity", None),
        ("UNCOMPRESSED", None),
        ("gzip", "gzip"),
        ("gz", "gzip"),
        (" GZ ", "gzip"),
        ("tgz", "gzip"),
        ("bz2", "bzip2"),
        ("bzip2", "bzip2"),
        ("xz", "xz"),
        ("lzma", "xz"),
        ("zst", "zstd"),
        ("zstd", "zstd"),
        ("Zstandard", "zstd"),
        ("Brotli", "brotli"),  # unknown: kept, lowercased; the content decides
    ],
)
def test_normalize_compression(hint: str | None, expected: str | None) -> None:
    assert normalize_compression(hint) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("env.tar.gz", "env.tar"),
        ("env.tgz", "env.tar"),
        ("ENV.TGZ", "ENV.tar"),
        ("env.tar.bz2", "env.tar"),
        ("env.tbz2", "env.tar"),
        ("env.tar.xz", "env.tar"),
        ("env.txz", "env.tar"),
        ("env.tar.zst", "env.tar"),
        ("env.tar.zstd", "env.tar"),
        ("data.csv.gzip", "data.csv"),
        ("Data.CSV.GZ", "Data.CSV"),
        ("data.csv", "data.csv"),
        ("archive.gz.txt", "archive.gz.txt"),
        (".gz", ".gz"),  # a suffix alone is a name, not an empty one
        ("a.gz", "a"),
    ],
)
def test_decompressed_name(name: str, expected: str) -> None:
    assert decompressed_name(name) == expected


# --- reading through the program, and in-process ----------------------------------------


# gzip is decompressed in-process: the programs' formats.
PROGRAMS = ("zstd", "bzip2", "xz")


@pytest.mark.parametrize("kind", [program_param(kind) for kind in PROGRAMS])
def test_each_format_reads_through_its_program(tmp_path: Path, spy: Spy, kind: str) -> None:
    path = write(tmp_path, "data" + SUFFIX[kind], compressed(kind, PAYLOAD))
    assert read_all(path) == PAYLOAD
    calls = spy.calls()
    assert len(calls) == 1
    assert calls[0][2] == ["-dc"]  # reads stdin: no file name on its command line


@pytest.mark.parametrize("how", ["use_programs=False", "no program on PATH"])
@pytest.mark.parametrize("kind", COMPRESSIONS)
def test_each_format_reads_in_process(
    tmp_path: Path,
    spy: Spy,
    monkeypatch: pytest.MonkeyPatch,
    no_subprocess: None,
    kind: str,
    how: str,
) -> None:
    path = write(tmp_path, "data" + SUFFIX[kind], compressed(kind, PAYLOAD))
    if how == "no program on PATH":
        (tmp_path / "empty").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        assert read_all(path) == PAYLOAD
    else:
        assert read_all(path, use_programs=False) == PAYLOAD
    assert spy.calls() == []


@pytest.mark.parametrize("use_programs", [True, False])
def test_plain_data_reads_as_it_is_whatever_its_name(
    tmp_path: Path, spy: Spy, use_programs: bool
) -> None:
    for name, data in [("data.gz", PAYLOAD), ("notes.txt", b"hello\n"), ("empty.xz", b"")]:
        assert read_all(write(tmp_path, name, data), use_programs=use_programs) == data
    assert spy.calls() == []


@pytest.mark.parametrize("use_programs", [True, False])
@pytest.mark.parametrize("kind", [program_param(kind) for kind in COMPRESSIONS])
def test_a_wrong_file_name_does_not_matter(
    tmp_path: Path, spy: Spy, kind: str, use_programs: bool
) -> None:
    wrong = {"gzip": "data.xz", "bzip2": "data.gz", "xz": "data.zst", "zstd": "data.txt"}
    path = write(tmp_path, wrong[kind], compressed(kind, PAYLOAD))
    assert read_all(path, use_programs=use_programs) == PAYLOAD
    assert len(spy.calls()) == (1 if use_programs and kind in PROGRAMS else 0)


def corruptions(data: bytes) -> dict[str, bytes]:
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 0x55]) + data[middle + 1 :]
    return {
        "truncated in the middle": data[:middle],
        "missing its last byte": data[:-1],
        "a flipped byte": flipped,
        "only its magic": data[:6],
    }


@pytest.mark.parametrize("use_programs", [True, False])
@pytest.mark.parametrize("kind", [program_param(kind) for kind in COMPRESSIONS])
def test_corrupt_or_truncated_input_is_unsupported_archive(
    tmp_path: Path, spy: Spy, kind: str, use_programs: bool
) -> None:
    failures = []
    for what, data in corruptions(compressed(kind, PAYLOAD)).items():
        path = write(tmp_path, "bad" + SUFFIX[kind], data)
        try:
            read_all(path, use_programs=use_programs, name="the-named-input")
        except UnsupportedArchive as exc:
            assert isinstance(exc, ValueError) and isinstance(exc, PonchoError)
            assert str(exc).startswith("the-named-input: ")
        else:
            failures.append(what)
    assert failures == [], f"{kind} {failures} read without an error"


@pytest.mark.parametrize("use_programs", [pytest.param(True, marks=needs("zstd")), False])
def test_zstd_data_of_several_frames_reads_whole(
    tmp_path: Path, spy: Spy, use_programs: bool
) -> None:
    # zstd -c of several files, or a parallel compressor's output: frames one after another,
    # one of them without its content size in its header (written as a stream).
    streamed = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(streamed, closefd=False) as writer:
        writer.write(b"third frame, streamed\n" * 1000)
    data = _zstd(PAYLOAD) + _zstd(b"second frame\n") + streamed.getvalue()
    path = write(tmp_path, "frames.zst", data)
    expected = PAYLOAD + b"second frame\n" + b"third frame, streamed\n" * 1000
    assert read_all(path, use_programs=use_programs) == expected
    assert len(spy.calls()) == (1 if use_programs else 0)


def test_zstd_without_program_or_module_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neither zstandard nor Python 3.14's compression.zstd can be imported.
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    path = write(tmp_path, "data.zst", compressed("zstd", PAYLOAD))
    with pytest.raises(UnsupportedArchive) as caught:
        read_all(path, use_programs=False)
    assert str(caught.value).startswith(f"{path}: ")
    assert "zstandard" in str(caught.value)


@pytest.mark.parametrize("use_programs", [True, False])
def test_gzip_data_of_several_members_reads_whole(
    tmp_path: Path, spy: Spy, use_programs: bool
) -> None:
    path = write(tmp_path, "members.gz", zeros_bomb(2) + gzip.compress(b"end"))
    assert read_all(path, use_programs=use_programs) == bytes(2 * MiB) + b"end"


@pytest.mark.parametrize("use_programs", [pytest.param(True, marks=needs("xz")), False])
def test_a_file_name_starting_with_a_dash_is_read(
    tmp_path: Path, spy: Spy, monkeypatch: pytest.MonkeyPatch, use_programs: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("-dc.xz", "--version.xz", "-"):
        write(tmp_path, name, compressed("xz", PAYLOAD))
        assert read_all(name, use_programs=use_programs) == PAYLOAD
    assert [args for _, _, args in spy.calls()] == ([["-dc"]] * 3 if use_programs else [])


# --- limits, while streaming ------------------------------------------------------------


def read_counting(path: Path, **kwargs: object) -> tuple[int, BaseException | None]:
    """Read in chunks; the bytes handed out before an error, and the error."""
    got = 0
    try:
        with open_decompressed(path, **kwargs) as stream:  # type: ignore[arg-type]
            while chunk := stream.read(64 * 1024):
                got += len(chunk)
    except PonchoError as exc:
        return got, exc
    return got, None


@pytest.mark.parametrize("use_programs", [True, False])
@pytest.mark.parametrize("kind", ["gzip", "plain"])
def test_max_bytes_is_enforced_to_the_byte(
    tmp_path: Path, spy: Spy, kind: str, use_programs: bool
) -> None:
    size = len(PAYLOAD)
    data = PAYLOAD if kind == "plain" else compressed(kind, PAYLOAD)
    path = write(tmp_path, "data.bin", data)
    got, error = read_counting(path, use_programs=use_programs, limits=Limits(max_bytes=size))
    assert (got, error) == (size, None)
    limits = Limits(max_bytes=size - 1, max_bytes_source="the cache's --max-size")
    got, error = read_counting(path, use_programs=use_programs, limits=limits, name="input")
    assert isinstance(error, LimitExceeded) and isinstance(error, ValueError)
    assert got <= size - 1  # nothing past the limit was handed out
    message = str(error)
    assert message.startswith("input: ")
    assert f"{size - 1:,} bytes (the cache's --max-size)" in message


@pytest.mark.parametrize("use_programs", [True, False])
def test_a_gzip_bomb_stops_at_the_ratio_floor_while_streaming(
    tmp_path: Path, spy: Spy, use_programs: bool
) -> None:
    bomb = zeros_bomb(200)  # 200 MiB of zeros in about 200 kB
    path = write(tmp_path, "bomb.tar.gz", bomb)
    assert 100 * len(bomb) < RATIO_FLOOR  # so the floor is the limit here
    got, error = read_counting(path, use_programs=use_programs, limits=Limits(max_ratio=100))
    assert isinstance(error, LimitExceeded)
    assert RATIO_FLOOR - MiB <= got <= RATIO_FLOOR  # stopped at the floor, not at 200 MiB
    assert f"100 times its compressed size of {len(bomb)} bytes" in str(error)
    assert str(path) in str(error)


@pytest.mark.parametrize("use_programs", [True, False])
def test_small_inputs_may_expand_up_to_the_ratio_floor(
    tmp_path: Path, spy: Spy, use_programs: bool
) -> None:
    data = zeros_bomb(3)  # a ratio of about 1000
    path = write(tmp_path, "zeros.gz", data)
    got, error = read_counting(path, use_programs=use_programs, limits=Limits(max_ratio=2))
    assert (got, error) == (3 * MiB, None)


@pytest.mark.parametrize("use_programs", [True, False])
def test_max_ratio_is_enforced_to_the_byte_above_the_floor(
    tmp_path: Path, spy: Spy, monkeypatch: pytest.MonkeyPatch, use_programs: bool
) -> None:
    # A low floor makes the ratio the limit without decompressing 64 MiB.
    monkeypatch.setattr(compression, "RATIO_FLOOR", 1024)
    total = 4 * MiB
    data = zeros_bomb(4)
    path = write(tmp_path, "zeros.gz", data)
    fits = Limits(max_ratio=(total + 0.5) / len(data))
    assert read_counting(path, use_programs=use_programs, limits=fits) == (total, None)
    over = Limits(max_ratio=(total - 0.5) / len(data))
    got, error = read_counting(path, use_programs=use_programs, limits=over)
    assert isinstance(error, LimitExceeded)
    assert got < total


def test_limits_budget() -> None:
    assert Limits().budget("x", 10) == []
    assert Limits(max_ratio=0).budget("x", 10) == []
    assert [limit for limit, _ in Limits(max_ratio=100).budget("x", 1000)] == [RATIO_FLOOR]
    assert [limit for limit, _ in Limits(max_ratio=100).budget("x", 10**6)] == [10**8]
    both = Limits(max_bytes=5, max_ratio=2.5, max_bytes_source="--max-size")
    assert both.budget("x", 10**8) == [
        (5, "the limit of 5 bytes (--max-size)"),
        (250_000_000, "2.5 times its compressed size of 100000000 bytes"),
    ]


# --- the decompressor process -------------------------------------------------------------


def assert_gone(pid: int) -> None:
    """The child `pid` was reaped: neither running nor a zombie."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert not Path(f"/proc/{pid}").exists()


@needs("zstd")
@pytest.mark.parametrize("error", ["raised in the with block", "limit exceeded"])
def test_the_decompressor_is_gone_after_an_error_in_the_with_block(
    tmp_path: Path, spy: Spy, error: str
) -> None:
    # Far more output than a pipe holds: the program is still writing when the error comes.
    path = write(tmp_path, "big.zst", _zstd(bytes(64 * MiB)))
    limits = Limits(max_bytes=2 * MiB) if error == "limit exceeded" else None
    expected = LimitExceeded if limits is not None else RuntimeError
    with pytest.raises(expected) as caught, open_decompressed(path, limits=limits) as stream:
        assert stream.read(10) == bytes(10)
        if limits is None:
            raise RuntimeError("the reader failed")
        stream.read()
    assert type(caught.value) is expected  # not replaced by the killed program's status
    [(pid, _, _)] = spy.calls()
    assert_gone(pid)


@needs("zstd")
def test_leaving_the_with_block_early_ends_the_decompressor_cleanly(
    tmp_path: Path, spy: Spy
) -> None:
    path = write(tmp_path, "data.zst", compressed("zstd", PAYLOAD))
    with open_decompressed(path) as stream:
        assert stream.read(512) == PAYLOAD[:512]  # e.g. a tar reader stops at its end marker
    [(pid, _, _)] = spy.calls()
    assert_gone(pid)


def test_what_follows_a_tar_s_end_is_not_decompressed_without_bound(tmp_path: Path) -> None:
    """A "zstd" that outputs a small tar, then zeros forever (a bomb after the end-of-archive
    marker): extraction ends with the files, the program stopped, instead of draining it."""
    import textwrap

    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    plain = tmp_path / "plain.tar"
    plain.write_bytes(payload.getvalue())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "zstd"
    fake.write_text(f"#!/bin/sh\ncat {plain}\nexec cat /dev/zero\n")
    fake.chmod(0o755)
    archive = write(tmp_path, "bomb.tar.zst", _zstd(b"anything"))
    out = tmp_path / "out"
    out.mkdir()
    code = textwrap.dedent(
        f"""
        from poncho_core.extract import extract
        print(extract({str(archive)!r}, {str(out)!r}))
        """
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
    assert (out / "hello.txt").read_text() == "hello\n"

"""gzip decompressed in-process by a thread: every member of a multi-member stream, with
each deflate implementation installed (ISA-L, zlib-ng, zlib), errors and limits surfacing
in the reader, and the thread gone whatever happens."""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import random
import sys
import tarfile
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from poncho_core import _inflate
from poncho_core._inflate import DEFLATE_MODULES, GzipReader, deflate_module
from poncho_core.compression import Limits, open_decompressed
from poncho_core.errors import LimitExceeded, UnsupportedArchive
from poncho_core.extract import extract

MiB = 1 << 20
PAYLOAD = random.Random(3).randbytes(200_000) + b"poncho line\n" * 300_000


def installed(name: str) -> object:
    top = name.split(".")[0]
    missing = importlib.util.find_spec(top) is None
    return pytest.param(name, marks=pytest.mark.skipif(missing, reason=f"{top} not installed"))


MODULES = [installed(name) for name in DEFLATE_MODULES]


def threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "poncho-inflate"]


def read(data: bytes, module: Any, **kwargs: Any) -> bytes:
    reader = GzipReader(io.BytesIO(data), "input", module, **kwargs)
    try:
        return io.BufferedReader(reader).read()
    finally:
        reader.close()


def test_the_fastest_importable_module_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert deflate_module(("no_such_module", "zlib")) is zlib
    assert deflate_module(("no_such_module",)) is zlib  # the standard library at worst
    for name in DEFLATE_MODULES[:-1]:  # as if not installed (also when imported before)
        monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, name.split(".")[0], None)
    assert deflate_module() is zlib
    monkeypatch.undo()
    first = next((n for n in DEFLATE_MODULES if importlib.util.find_spec(n.split(".")[0])), "")
    assert deflate_module().__name__ == first


@pytest.mark.parametrize("name", MODULES)
def test_every_member_is_decompressed(name: str) -> None:
    module = importlib.import_module(name)
    members = [gzip.compress(PAYLOAD, mtime=0), gzip.compress(b""), gzip.compress(b"end\n")]
    # Zero padding after a member, as tape blocking leaves and gzip accepts.
    data = members[0] + members[1] + bytes(1000) + members[2] + bytes(10)
    assert read(data, module) == PAYLOAD + b"end\n"
    assert threads() == []


@pytest.mark.parametrize("name", MODULES)
def test_output_far_larger_than_a_call_s_bound_comes_whole(name: str) -> None:
    # One member whose output is many times _OUT per MiB of input.
    data = gzip.compress(bytes(3 * _inflate._OUT + 5), mtime=0)
    assert read(data, importlib.import_module(name)) == bytes(3 * _inflate._OUT + 5)


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize(
    "damage",
    ["truncated member", "truncated second member", "bad checksum", "garbage after"],
)
def test_damage_is_unsupported_archive(name: str, damage: str) -> None:
    one = gzip.compress(PAYLOAD, mtime=0)
    data = {
        "truncated member": one[:-3],
        "truncated second member": one + one[:100],
        "bad checksum": one[:-8] + bytes(4) + one[-4:],
        "garbage after": one + b"not gzip at all",
    }[damage]
    with pytest.raises(UnsupportedArchive, match=r"^input: corrupt or truncated archive"):
        read(data, importlib.import_module(name))
    assert threads() == []


def test_a_limit_stops_the_reader_and_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "zeros.gz"
    path.write_bytes(gzip.compress(bytes(40 * MiB), compresslevel=1))
    got = 0
    limits = Limits(max_bytes=5 * MiB)
    with pytest.raises(LimitExceeded), open_decompressed(path, limits=limits) as stream:
        while chunk := stream.read(MiB):
            got += len(chunk)
    assert got <= 5 * MiB
    assert threads() == []


def test_leaving_early_stops_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "zeros.gz"
    path.write_bytes(gzip.compress(bytes(40 * MiB), compresslevel=1))
    with open_decompressed(path) as stream:
        assert stream.read(10) == bytes(10)
    assert threads() == []


def tar_bytes() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    return out.getvalue()


def test_a_bomb_after_the_tar_s_end_is_not_decompressed(tmp_path: Path) -> None:
    # A small tar, then gzip members of zeros for 4 GiB: extraction ends with the file.
    zeros = gzip.compress(bytes(64 * MiB), compresslevel=9, mtime=0)
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(gzip.compress(tar_bytes(), mtime=0) + zeros * 64)
    out = tmp_path / "out"
    out.mkdir()
    assert extract(archive, out) == 1
    assert (out / "hello.txt").read_bytes() == b"hello\n"
    assert threads() == []


def test_a_damaged_end_after_the_tar_s_end_is_refused(tmp_path: Path) -> None:
    # The tar's end marker is whole; the gzip trailer (checksum, size) is cut off.
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(gzip.compress(tar_bytes(), mtime=0)[:-4])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsupportedArchive, match="corrupt or truncated"):
        extract(archive, out)
    assert threads() == []


def test_a_read_error_reaches_the_reader() -> None:
    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError(5, os.strerror(5))

    reader = GzipReader(Failing(), "input")  # type: ignore[arg-type]
    with pytest.raises(OSError, match="Input/output error"):
        reader.read(10)
    reader.close()
    assert threads() == []

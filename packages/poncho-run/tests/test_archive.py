from __future__ import annotations

import os
import shutil
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from poncho_core.compression import open_decompressed as open_archive
from poncho_core.extract import extract
from poncho_run.archive import FORMATS, sniff
from poncho_run.errors import EnvironmentNotFound, RunError, UnsupportedArchive
from poncho_run_helpers import make_tar, member

MODES = {"gzip": "w:gz", "bzip2": "w:bz2", "xz": "w:xz", "tar": "w"}


def archive_of(tmp_path: Path, fmt: str, name: str = "env.bin") -> Path:
    """An archive in `fmt` under a name that says nothing about its format."""
    members = [member("bin/x", b"#!/bin/sh\n", mode=0o755), member("data.txt", b"hello")]
    if fmt == "zstd":
        zstandard = pytest.importorskip("zstandard")
        plain = make_tar(tmp_path / "plain.tar", members, mode="w")
        (tmp_path / name).write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
        return tmp_path / name
    return make_tar(tmp_path / name, members, mode=MODES[fmt])


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_are_recognised_by_content(tmp_path: Path, fmt: str) -> None:
    assert sniff(archive_of(tmp_path, fmt)) == fmt


@pytest.mark.parametrize("use_programs", [True, False], ids=["programs", "python"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_streams_its_tar(tmp_path: Path, fmt: str, use_programs: bool) -> None:
    path = archive_of(tmp_path, fmt)
    with (
        open_archive(path, use_programs=use_programs) as stream,
        tarfile.open(fileobj=stream, mode="r|") as tar,
    ):
        names = [m.name for m in tar]
    assert names == ["bin/x", "data.txt"]


def test_a_file_that_is_no_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "env.tar.gz"
    path.write_text("not an archive at all")
    with pytest.raises(UnsupportedArchive, match=r"env\.tar\.gz: not an environment archive"):
        sniff(path)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentNotFound, match="no such environment file"):
        sniff(tmp_path / "nothere.tar.gz")


def test_an_unreadable_path_is_a_run_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="cannot read"):
        sniff(tmp_path)  # a folder


@pytest.mark.parametrize("use_programs", [True, False], ids=["programs", "python"])
@pytest.mark.parametrize("fmt", ["gzip", "bzip2", "xz", "zstd"])
def test_a_truncated_archive_is_reported_as_such(
    tmp_path: Path, fmt: str, use_programs: bool
) -> None:
    full = archive_of(tmp_path, fmt, "full.bin")
    members = [member(f"f{i}", bytes(range(256)) * 64) for i in range(40)]
    if fmt != "zstd":
        full = make_tar(tmp_path / "full.bin", members, mode=MODES[fmt])
    data = full.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) * 2 // 3])
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsupportedArchive, match="corrupt or truncated"):
        extract(cut, dest, use_programs=use_programs)


def test_garbage_after_a_gzip_header_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 4000)
    dest = tmp_path / "dest"
    dest.mkdir()
    for use_programs in (True, False):
        with pytest.raises(UnsupportedArchive, match="corrupt or truncated"):
            extract(path, dest, use_programs=use_programs)


# An xz (gzip is decompressed in-process) that, like a decompressor blocked on a slow disk or
# one that ignores SIGPIPE, does not end by itself when its reader goes away: only a kill
# ends it (before 60 s).
STUBBORN_XZ = """#!/bin/sh
trap '' PIPE
echo $$ > "$STUBBORN_PID"
{real} "$@"
sleep 60
"""


def test_a_decompressor_is_not_left_running_when_the_reader_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.which("xz")
    if real is None:
        pytest.skip("no xz program")
    fake = tmp_path / "bin" / "xz"
    fake.parent.mkdir()
    fake.write_text(STUBBORN_XZ.format(real=real))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("STUBBORN_PID", str(tmp_path / "pid"))
    members = [member(f"f{i}", bytes(range(256)) * 256) for i in range(200)]
    path = make_tar(tmp_path / "big.tar.xz", members, mode="w:xz")
    outcome: list[BaseException] = []

    def read_then_fail() -> None:
        try:
            with open_archive(path) as stream:
                stream.read(10)
                raise RuntimeError("reader failed")
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=read_then_fail, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "open_archive waited for the decompressor instead of ending it"
    assert [type(exc) for exc in outcome] == [RuntimeError]
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_zstd_without_program_nor_module_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sys.version_info >= (3, 14):
        pytest.skip("Python 3.14 decompresses zstd itself")
    path = archive_of(tmp_path, "zstd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with (
        pytest.raises(UnsupportedArchive, match=r"pip install zstandard"),
        open_archive(path, use_programs=False),
    ):
        pass

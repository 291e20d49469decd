"""Members read in one pass from tars of every compression, multi-stream bzip2 included,
through the format's program and in-process; damage is `UnsupportedArchive` naming the file."""

from __future__ import annotations

import bz2
import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from poncho_core.errors import UnsupportedArchive
from poncho_core.tarstream import looks_like_archive, open_tar


def _tar(count: int = 40) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(count):
            data = f"file {i}\n".encode() * 500
            info = tarfile.TarInfo(f"dir/f{i:02}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _multi_bz2(data: bytes) -> bytes:
    return b"".join(bz2.compress(data[i : i + 10_000]) for i in range(0, len(data), 10_000))


@pytest.mark.parametrize("use_programs", [True, False], ids=["program", "in-process"])
@pytest.mark.parametrize(
    "compress",
    [lambda d: d, _multi_bz2, lambda d: zstandard.ZstdCompressor().compress(d)],
    ids=["plain", "bzip2-multi-stream", "zstd"],
)
def test_every_member_and_its_data(tmp_path: Path, compress: object, use_programs: bool) -> None:
    path = tmp_path / "a.tar.x"
    path.write_bytes(compress(_tar()))  # type: ignore[operator]
    assert looks_like_archive(path)
    seen = {}
    with open_tar(path, use_programs=use_programs) as reader:
        for member in reader:
            if member.name.endswith("7.txt"):
                seen[member.name] = reader.read_data(member.size)
    assert sorted(seen) == [f"dir/f{i:02}.txt" for i in (7, 17, 27, 37)]
    assert seen["dir/f17.txt"] == b"file 17\n" * 500


@pytest.mark.parametrize("use_programs", [True, False], ids=["program", "in-process"])
def test_a_truncated_or_foreign_stream_names_the_archive(
    tmp_path: Path, use_programs: bool
) -> None:
    truncated = tmp_path / "t.tar"
    truncated.write_bytes(_tar()[:20_000])
    foreign = tmp_path / "f.tar.bz2"
    foreign.write_bytes(bz2.compress(b"no tar here\n" * 100))
    for path in (truncated, foreign):
        with (
            pytest.raises(UnsupportedArchive, match=rf"^{path}: corrupt or truncated archive"),
            open_tar(path, use_programs=use_programs) as reader,
        ):
            for _member in reader:
                pass


def test_text_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text('{"conda": {}}')
    assert not looks_like_archive(tmp_path / "spec.json")

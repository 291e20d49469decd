"""Data archives through poncho-fetch as a task gets them (a real HTTP server on 127.0.0.1, a
real cache): extracted by poncho-core's one extractor, refused on the shared table of
malicious members, bounded against decompression bombs."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import poncho_core.errors
from poncho_fetch import DataCache, LimitExceeded, RetryPolicy, UnsafeArchive
from poncho_testing import ServedDirectory
from poncho_testing.tars import SAFE_MEMBERS, UNSAFE_MEMBERS, member, tar_bytes


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


def _outside(root: Path, cache: Path) -> set[str]:
    """Everything under `root` but the cache folder."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if cache not in (p, *p.parents)}


def _fetch(
    make_spec: Any, cache: Path, url: str, policy: RetryPolicy, **entry: Any
) -> dict[str, str]:
    spec = make_spec(http={"DATA": {"url": url, **entry}})
    with DataCache(cache, policy=policy).using(spec) as env:
        return env


def test_the_one_unsafe_archive_class() -> None:
    assert UnsafeArchive is poncho_core.errors.UnsafeArchive
    assert LimitExceeded is poncho_core.errors.LimitExceeded


@pytest.mark.parametrize("kind", ["plain", "gzip", "bzip2", "xz", "zstd"])
def test_a_tar_of_every_compression_is_extracted_by_content(
    tmp_path: Path, server: ServedDirectory, make_spec: Any, policy: RetryPolicy, kind: str
) -> None:
    url = server.add("data.bin", _compress(tar_bytes(SAFE_MEMBERS), kind))
    # The spec's compression hint is deliberately wrong: the content decides.
    env = _fetch(make_spec, tmp_path / "cache", url, policy, type="tar", compression="xz")
    top = Path(env["DATA"]) / "top"
    assert (top / "a.txt").read_text() == "alpha\n"
    assert (top / "sub" / "b.txt").read_text() == "beta\n"
    assert os.readlink(top / "link") == "a.txt"
    assert (top / "hard").read_text() == "alpha\n"
    mode = (top / "sub" / "b.txt").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_the_shared_table_of_malicious_members_is_refused(
    tmp_path: Path, server: ServedDirectory, make_spec: Any, policy: RetryPolicy, case: str
) -> None:
    """poncho_fetch's entry point of the shared table (poncho_testing.tars): refused with
    UnsafeArchive naming the entry and the member; nothing outside the cache, no entry."""
    unsafe = UNSAFE_MEMBERS[case]
    url = server.add("evil.tar.gz", gzip.compress(tar_bytes(unsafe.members)))
    cache = tmp_path / "cache"
    (tmp_path / "outside.txt").write_text("untouched")
    before = _outside(tmp_path, cache)
    with pytest.raises(UnsafeArchive) as info:
        _fetch(make_spec, cache, url, policy, type="tar")
    assert str(info.value).startswith("http.DATA: evil.tar.gz: unsafe archive member")
    assert unsafe.reason in info.value.reason
    assert _outside(tmp_path, cache) == before
    assert (tmp_path / "outside.txt").read_text() == "untouched"
    assert list((cache / "entries").iterdir()) == []


def test_a_compressed_file_is_decompressed(
    tmp_path: Path, server: ServedDirectory, make_spec: Any, policy: RetryPolicy
) -> None:
    url = server.add("table.csv.gz", gzip.compress(b"a,b\n1,2\n"))
    env = _fetch(make_spec, tmp_path / "cache", url, policy, compression="gzip")
    assert Path(env["DATA"]).name == "table.csv"
    assert Path(env["DATA"]).read_bytes() == b"a,b\n1,2\n"


@pytest.mark.parametrize("entry", [{"type": "tar"}, {"compression": "gzip"}])
def test_a_decompression_bomb_stops_at_the_ratio(
    tmp_path: Path,
    server: ServedDirectory,
    make_spec: Any,
    policy: RetryPolicy,
    entry: dict[str, str],
) -> None:
    """100 MiB of zeros in a 100 KB gzip: over 100x its size (and past the 64 MiB any input
    may reach), stopped while streaming; nothing kept."""
    zeros = bytes(100 << 20)
    data = tar_bytes([member("zeros", zeros)]) if entry.get("type") == "tar" else zeros
    url = server.add("bomb.gz", gzip.compress(data))
    cache = tmp_path / "cache"
    with pytest.raises(LimitExceeded, match="100 times its compressed size"):
        _fetch(make_spec, cache, url, policy, **entry)
    assert list((cache / "entries").iterdir()) == []
    assert list((cache / "tmp").iterdir()) == []


def test_a_corrupt_archive_is_one_clear_error(
    tmp_path: Path, server: ServedDirectory, make_spec: Any, policy: RetryPolicy
) -> None:
    url = server.add("cut.tar.gz", gzip.compress(tar_bytes(SAFE_MEMBERS))[:-40])
    with pytest.raises(poncho_core.errors.UnsupportedArchive, match="corrupt or truncated"):
        _fetch(make_spec, tmp_path / "cache", url, policy, type="tar")

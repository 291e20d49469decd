from __future__ import annotations

import pickle

from poncho_fetch import ChecksumMismatch, DownloadError, FetchError, GitNotFound, UnsafeArchive
from poncho_spec import PonchoError


def test_hierarchy() -> None:
    assert issubclass(FetchError, PonchoError)
    assert issubclass(DownloadError, OSError)
    assert issubclass(ChecksumMismatch, ValueError)
    assert issubclass(GitNotFound, FileNotFoundError)
    assert issubclass(UnsafeArchive, ValueError)
    for cls in (DownloadError, ChecksumMismatch, GitNotFound, UnsafeArchive):
        assert issubclass(cls, FetchError)


def test_checksum_mismatch_survives_pickling() -> None:
    err = ChecksumMismatch("http.X", "http://h/x", "a" * 64, "b" * 64)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.key, copy.url, copy.expected, copy.got) == (
        "http.X",
        "http://h/x",
        "a" * 64,
        "b" * 64,
    )
    assert str(copy) == str(err)
    assert "expected " + "a" * 64 + ", got " + "b" * 64 in str(err)

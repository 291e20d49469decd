from __future__ import annotations

import pickle

from poncho_fetch import ChecksumMismatch, DownloadError, FetchFailed, LimitExceeded


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


def test_fetch_failed_survives_pickling_with_each_error() -> None:
    err = FetchFailed([DownloadError("http.A: refused"), LimitExceeded("http.B: too big")])
    assert str(err) == "http.A: refused\nhttp.B: too big"
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err)
    assert [type(e) for e in copy.errors] == [DownloadError, LimitExceeded]

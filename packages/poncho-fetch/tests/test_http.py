from __future__ import annotations

import hashlib
import logging
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import ChecksumMismatch, DownloadError, FetchError, LimitExceeded, RetryPolicy
from poncho_fetch.http import download

DATA = bytes(range(256)) * 400  # 100 KiB
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture(autouse=True, params=["requests", "stdlib"])
def http_library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: with requests, and with the standard library's HTTP that a Python
    without requests gets (the fetcher a tarball carries for bin/run_in_env)."""
    if request.param == "stdlib":
        monkeypatch.setitem(sys.modules, "requests", None)  # `import requests` fails
    return str(request.param)


def test_downloads_and_returns_the_digest(server: Any, tmp_path: Path, policy: RetryPolicy) -> None:
    url = server.add("d/x.bin", DATA)
    dest = tmp_path / "x.bin"
    assert download(url, dest, key="http.X", sha256=DIGEST.upper(), policy=policy) == DIGEST
    assert dest.read_bytes() == DATA
    assert server.hits("d/x.bin") == 1


def test_checksum_mismatch_names_key_url_and_both_digests(
    server: Any, tmp_path: Path, policy: RetryPolicy
) -> None:
    url = server.add("x.bin", DATA)
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatch) as info:
        download(url, tmp_path / "x", key="http.X", sha256=wrong, policy=policy)
    err = info.value
    assert (err.key, err.url, err.expected, err.got) == ("http.X", url, wrong, DIGEST)
    assert str(err).startswith(f"http.X: sha256 mismatch for {url}: expected {wrong}, got")
    assert server.hits("x.bin") == 1  # not retried: the server answered fine


def test_dropped_connection_is_retried(
    server: Any, tmp_path: Path, policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.add("x.bin", DATA)
    server.fail("x.bin", "truncate", "truncate")
    dest = tmp_path / "x"
    with caplog.at_level(logging.WARNING, logger="poncho_fetch"):
        assert download(url, dest, key="http.X", sha256=DIGEST, policy=policy) == DIGEST
    assert dest.read_bytes() == DATA  # restarted from scratch, not appended
    assert server.hits("x.bin") == 3
    assert "retrying" in caplog.text


def test_server_errors_are_retried_then_reported(
    server: Any, tmp_path: Path, policy: RetryPolicy
) -> None:
    url = server.add("x.bin", DATA)
    server.fail("x.bin", *["500"] * 10)
    with pytest.raises(DownloadError, match=r"http.X: cannot download .*HTTP 500.*tried 4 times"):
        download(url, tmp_path / "x", key="http.X", policy=policy)
    assert server.hits("x.bin") == 4


def test_always_dropped_connection_fails_after_retries(
    server: Any, tmp_path: Path, policy: RetryPolicy
) -> None:
    url = server.add("x.bin", DATA)
    server.fail("x.bin", *["truncate"] * 10)
    with pytest.raises(DownloadError, match="tried 4 times"):
        download(url, tmp_path / "x", key="http.X", policy=policy)
    assert server.hits("x.bin") == 4


def test_not_found_is_not_retried(server: Any, tmp_path: Path, policy: RetryPolicy) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url_for("missing"), tmp_path / "x", key="http.X", policy=policy)
    assert server.hits("missing") == 1


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RetryPolicy(retries=1, backoff=0, timeout=5)
    with pytest.raises(DownloadError, match="tried 2 times"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", key="http.X", policy=policy)


def test_unsupported_url(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"http.X: cannot download ftp://"):
        download("ftp://127.0.0.1/x", tmp_path / "x", key="http.X")


def test_unwritable_destination(server: Any, tmp_path: Path, policy: RetryPolicy) -> None:
    url = server.add("x.bin", DATA)
    dest = tmp_path / "no" / "such" / "dir"
    with pytest.raises(FetchError, match=f"^cannot write {dest}: No such file or directory$"):
        download(url, dest, key="http.X", policy=policy)
    assert server.hits("x.bin") == 1  # not retried: the disk will not get better


# -- bounded in time and size (issue 13 item 22, issue 12 item 6) ------------------------


@pytest.fixture
def watchdog(server: Any) -> Any:
    """Releases every held response after 60 s: a broken deadline fails the test (with
    another message) instead of hanging it."""
    timer = threading.Timer(60, server.release)
    timer.start()
    yield
    timer.cancel()


def test_a_server_stalling_after_the_headers_ends_at_the_deadline(
    server: Any, tmp_path: Path, watchdog: Any
) -> None:
    url = server.add("x.bin", DATA)
    server.fail("x.bin", *["stall"] * 20)
    policy = RetryPolicy(retries=20, backoff=0.01, timeout=0.5, deadline=1.5)
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "x", key="http.X", policy=policy)
    host = url.split("/")[2]
    assert str(info.value) == (
        f"http.X: cannot download {url}: {host}: not finished within the deadline of 1.5 s "
        "(RetryPolicy.deadline, poncho_fetch --deadline)"
    )


def test_a_trickling_server_is_too_slow(server: Any, tmp_path: Path, watchdog: Any) -> None:
    # One byte every 0.1 s keeps every read alive: only the minimum rate ends it.
    server.trickle_interval = 0.1
    url = server.add("x.bin", DATA)
    server.fail("x.bin", "trickle", "trickle")
    policy = RetryPolicy(retries=1, backoff=0.01, timeout=5, min_rate=1000, rate_window=0.5)
    with pytest.raises(DownloadError, match=r"too slow \(\d+ bytes/s over the last 1? ?s?"):
        download(url, tmp_path / "x", key="http.X", policy=policy)
    assert server.hits("x.bin") == 2  # retried once, then given up


def test_a_trickling_server_ends_at_the_deadline_without_a_minimum_rate(
    server: Any, tmp_path: Path, watchdog: Any
) -> None:
    server.trickle_interval = 0.1
    url = server.add("x.bin", DATA)
    server.fail("x.bin", "trickle")
    policy = RetryPolicy(retries=0, timeout=5, deadline=1.0, min_rate=0)
    with pytest.raises(DownloadError, match="not finished within the deadline of 1 s"):
        download(url, tmp_path / "x", key="http.X", policy=policy)


def test_a_body_over_max_bytes_is_refused_from_its_content_length(
    server: Any, tmp_path: Path, policy: RetryPolicy
) -> None:
    url = server.add("x.bin", DATA)
    with pytest.raises(LimitExceeded, match=rf"^http.X: {url} is {len(DATA)} bytes, over the "):
        download(url, tmp_path / "x", key="http.X", policy=policy, max_bytes=1000)
    assert server.hits("x.bin") == 1


def test_a_refused_connection_is_one_short_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "x", key="http.X", policy=RetryPolicy(retries=0, timeout=5))
    assert str(info.value) == (
        f"http.X: cannot download {url}: 127.0.0.1:{port}: connection refused (tried 1 time)"
    )


def test_a_url_with_a_lone_surrogate_is_a_download_error(tmp_path: Path) -> None:
    # Issue 13 item 20 (validation refuses it too; the API may get it directly).
    with pytest.raises(DownloadError, match=r"http://127.0.0.1:9/\\ud800") as info:
        download("http://127.0.0.1:9/\ud800", tmp_path / "x", key="http.X", policy=RetryPolicy(0))
    str(info.value).encode("utf-8")  # printable anywhere

"""serve_directory is a real HTTP server on 127.0.0.1 that can drop requests on purpose."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from poncho_testing import ServedDirectory, serve_directory


def fetch(url: str, method: str = "GET") -> bytes:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()  # type: ignore[no-any-return]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(bytes(range(256)) * 8)
    return tmp_path


def test_serves_files_and_counts_requests(folder: Path) -> None:
    with serve_directory(folder) as base:
        assert base.startswith("http://127.0.0.1:")
        assert base.url == str(base) and base.root == folder.resolve()
        assert fetch(f"{base}/sub/data.bin") == (folder / "sub" / "data.bin").read_bytes()
        assert fetch(f"{base}/sub/data.bin", method="HEAD") == b""
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(f"{base}/missing")
        err.value.close()
        assert err.value.code == 404
    assert base.requests == ["GET /sub/data.bin", "HEAD /sub/data.bin", "GET /missing"]
    assert base.dropped == 0


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("reset", (ConnectionResetError, http.client.RemoteDisconnected, urllib.error.URLError)),
        ("close", (http.client.RemoteDisconnected, urllib.error.URLError)),
        ("truncate", (http.client.IncompleteRead,)),
        ("503", (urllib.error.HTTPError,)),
    ],
)
def test_drops_the_first_requests(folder: Path, mode: str, error: tuple[type, ...]) -> None:
    with serve_directory(folder, drop_first=2, drop_mode=mode) as base:  # type: ignore[arg-type]
        for _ in range(2):
            with pytest.raises(error) as err:
                fetch(f"{base}/sub/data.bin")
            if isinstance(err.value, urllib.error.HTTPError):
                assert err.value.code == 503
                err.value.close()
        assert fetch(f"{base}/sub/data.bin") == (folder / "sub" / "data.bin").read_bytes()
        assert base.dropped == 2 and len(base.requests) == 3


def test_truncated_head_sends_headers_only(folder: Path) -> None:
    with serve_directory(folder, drop_first=1, drop_mode="truncate") as base:
        assert fetch(f"{base}/sub/data.bin", method="HEAD") == b""
        assert base.dropped == 1


def test_drop_next_and_bad_mode(http_server: ServedDirectory) -> None:
    (http_server.root / "f.txt").write_text("hi")
    assert fetch(f"{http_server.url}/f.txt") == b"hi"
    http_server.drop_next(1, "close")
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError)):
        fetch(f"{http_server.url}/f.txt")
    assert fetch(f"{http_server.url}/f.txt") == b"hi"
    with pytest.raises(ValueError, match="unknown drop mode 'explode'"):
        http_server.drop_next(1, "explode")  # type: ignore[arg-type]

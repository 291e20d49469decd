"""serve_directory is a real HTTP server on 127.0.0.1 that can drop requests on purpose."""

from __future__ import annotations

import http.client
import socket
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


def test_add_hits_and_faults_per_path(http_server: ServedDirectory) -> None:
    url = http_server.add("d/x.bin?v=1", b"0123456789")
    assert url == f"{http_server.url}/d/x.bin?v=1"
    other = http_server.add("y.bin", b"y")
    http_server.fail("d/x.bin?v=1", "500", "truncate")
    with pytest.raises(urllib.error.HTTPError) as err:
        fetch(url)
    assert err.value.code == 500
    err.value.close()
    assert fetch(other) == b"y"  # faults are per path
    with pytest.raises(http.client.IncompleteRead):
        fetch(url)
    assert fetch(url) == b"0123456789"
    assert http_server.hits("d/x.bin?v=1") == 3 and http_server.hits("y.bin") == 1
    assert http_server.dropped == 2
    with pytest.raises(ValueError, match="unknown drop mode 'slow'"):
        http_server.fail("y.bin", "slow")  # type: ignore[arg-type]


def _get(url: str) -> tuple[socket.socket, bytes]:
    """Send a GET on a raw socket; the socket and the bytes after the headers so far."""
    host, port = url.split("/")[2].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"GET /{url.split('/', 3)[3]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(4096)
    return sock, received.split(b"\r\n\r\n", 1)[1]


def _until_closed(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(4096):
        out += chunk
    return out


@pytest.mark.parametrize(("mode", "first"), [("hold", b"ab" * 25), ("stall", b"")])
def test_hold_and_stall_wait_for_release(
    http_server: ServedDirectory, mode: str, first: bytes
) -> None:
    url = http_server.add("x.bin", b"ab" * 50)
    http_server.fail("x.bin", mode)  # type: ignore[arg-type]
    sock, body = _get(url)
    with sock:
        while len(body) < len(first):
            body += sock.recv(4096)
        assert body == first
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(4096)  # nothing more until release()
        sock.settimeout(10)
        http_server.release()
        rest = _until_closed(sock)
    assert body + rest == (b"ab" * 50 if mode == "hold" else b"")


def test_trickle_sends_a_byte_at_a_time(http_server: ServedDirectory) -> None:
    http_server.trickle_interval = 0.2
    url = http_server.add("x.bin", b"abc")
    http_server.fail("x.bin", "trickle")
    sock, body = _get(url)
    with sock:
        chunks = [body] if body else []
        while chunk := sock.recv(10):
            chunks.append(chunk)
    assert b"".join(chunks) == b"abc"
    assert len(chunks) >= 2  # sent apart (an ordinary response arrives in one piece)


def test_clear_forgets_faults_and_holds_again(http_server: ServedDirectory) -> None:
    url = http_server.add("x.bin", b"abcd")
    http_server.fail("x.bin", "500", "500")
    http_server.drop_next(3, "close")
    http_server.release()
    http_server.clear()
    assert fetch(url) == b"abcd"
    http_server.fail("x.bin", "stall")
    sock, body = _get(url)
    with sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # held again after clear()
        http_server.clear()
        sock.settimeout(10)
        assert body + _until_closed(sock) == b""

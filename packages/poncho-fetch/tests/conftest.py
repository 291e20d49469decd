"""Local fixtures: a real HTTP server on 127.0.0.1 (with faults on demand) and real git repos.

poncho-testing's ``serve_directory``/``make_git_repo`` did not exist when these tests were
written; these are small and also count requests and inject faults, which the cache tests
need.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from poncho_fetch import RetryPolicy
from poncho_spec import Spec


@dataclass
class DataServer:
    """Files served from memory; `requests` counts GETs per path; `faults` queues, per
    path, what the next requests get instead of the file: "drop" (half the body, then the
    connection closes), "500", or "hold" (half the body, then wait for `gate` to be set)."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: dict[str, list[str]] = field(default_factory=dict)
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, data: bytes) -> str:
        self.files["/" + path.lstrip("/")] = data
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def fail(self, path: str, *faults: str) -> None:
        self.faults.setdefault("/" + path.lstrip("/"), []).extend(faults)

    def count(self, path: str) -> int:
        return self.requests["/" + path.lstrip("/")]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            state.requests[self.path] += 1
            queue = state.faults.get(self.path) or []
            fault = queue.pop(0) if queue else None
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        if fault == "500":
            self.send_error(500)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault in ("drop", "hold"):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if fault == "hold":
                state.gate.wait(60)
            else:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(data[len(data) // 2 :])
            return
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: DataServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away mid-response (the tests kill some on purpose)


@pytest.fixture
def server() -> Iterator[DataServer]:
    """A real HTTP server on 127.0.0.1 serving `DataServer.files`."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = DataServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.state.gate.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@dataclass
class GitRemote:
    """A real repository: `commits` oldest first (the file ``data.txt`` holds "v1", "v2",
    "v3"), tag ``v1`` (annotated) on the first, branch ``main`` at the last."""

    path: Path
    commits: list[str]

    @property
    def url(self) -> str:
        return self.path.as_uri()


@pytest.fixture(scope="session")
def git_remote(tmp_path_factory: pytest.TempPathFactory) -> GitRemote:
    path = tmp_path_factory.mktemp("remote") / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commits = []
    for n in (1, 2, 3):
        (path / "data.txt").write_text(f"v{n}\n")
        git(path, "add", "data.txt")
        git(path, "commit", "-q", "-m", f"v{n}")
        commits.append(git(path, "rev-parse", "HEAD"))
        if n == 1:
            git(path, "tag", "-a", "v1", "-m", "first")
    return GitRemote(path, commits)


@pytest.fixture
def policy() -> RetryPolicy:
    """Retries without the production backoff (tests stay fast)."""
    return RetryPolicy(retries=3, backoff=0.01, timeout=30)


@pytest.fixture
def make_spec() -> Any:
    """``make_spec(git={...}, http={...})`` -> a validated Spec."""

    def make(git: dict[str, Any] | None = None, http: dict[str, Any] | None = None) -> Spec:
        data: dict[str, Any] = {}
        if git:
            data["git"] = git
        if http:
            data["http"] = http
        return Spec.from_dict(data, source="test")

    return make


@pytest.fixture(scope="session")
def run_git() -> Any:
    """``run_git(cwd, *args)`` -> stdout, with a fixed identity and no user config."""
    return git

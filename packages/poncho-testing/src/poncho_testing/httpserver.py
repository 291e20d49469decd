"""A real HTTP server on 127.0.0.1 serving a folder, able to misbehave on purpose.

Faults are given for the next requests (:meth:`ServedDirectory.drop_next`) or for the next
requests of one path (:meth:`ServedDirectory.fail`). The ways to fail:

- ``reset``: the connection is reset, no response; ``close``: closed with no response;
- ``truncate``: full headers, half the body, then closed;
- ``503``, ``500``: that status;
- ``hold``: headers and half the body, then nothing until :meth:`ServedDirectory.release`
  (or the server stops), then the rest;
- ``stall``: headers, then nothing until :meth:`~ServedDirectory.release`, then closed;
- ``trickle``: headers, then one byte every ``trickle_interval`` seconds (0.5 by default)
  until the body is sent or :meth:`~ServedDirectory.release` is called.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

DropMode = Literal["reset", "close", "truncate", "503", "500", "hold", "stall", "trickle"]
_MODES = ("reset", "close", "truncate", "503", "500", "hold", "stall", "trickle")


class ServedDirectory(str):
    """The base URL of a running :func:`serve_directory` (a ``str``), with its state.

    ``url`` is the URL itself (``http://127.0.0.1:PORT``, no trailing slash), ``root`` the
    folder served, ``requests`` the ``"METHOD /path"`` of every request received (dropped
    ones included), ``dropped`` how many were dropped. :meth:`drop_next` makes the next
    requests fail, :meth:`fail` the next requests of one path; :meth:`add` writes a file
    and :meth:`hits` says how many GETs a path got.
    """

    root: Path
    requests: list[str]
    dropped: int
    trickle_interval: float
    _lock: threading.Lock
    _drop_left: int
    _mode: DropMode
    _faults: dict[str, list[DropMode]]
    _gets: Counter[str]
    _gate: threading.Event

    def __new__(cls, url: str, root: Path) -> ServedDirectory:
        """The URL string, knowing the folder it serves."""
        self = super().__new__(cls, url)
        self.root = root
        self.requests = []
        self.dropped = 0
        self.trickle_interval = 0.5
        self._lock = threading.Lock()
        self._drop_left = 0
        self._mode = "reset"
        self._faults = {}
        self._gets = Counter()
        self._gate = threading.Event()
        return self

    def add(self, path: str, data: bytes) -> str:
        """Write `data` to `path` (relative, ``/``-separated; a ``?query`` is kept in the
        URL only) under the root; its URL."""
        target = self.root / path.lstrip("/").split("?", 1)[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return self.url_for(path)

    def url_for(self, path: str) -> str:
        """The URL of `path` on this server."""
        return f"{self.url}/{path.lstrip('/')}"

    def hits(self, path: str) -> int:
        """How many GET requests `path` got (failed ones included)."""
        with self._lock:
            return self._gets["/" + path.lstrip("/")]

    def fail(self, path: str, *modes: DropMode) -> None:
        """Fail the next requests of `path`, one mode each, in order (see the module doc)."""
        for mode in modes:
            _check_mode(mode)
        with self._lock:
            self._faults.setdefault("/" + path.lstrip("/"), []).extend(modes)

    def release(self) -> None:
        """Let every ``hold``, ``stall`` and ``trickle`` response go on (and later ones)."""
        self._gate.set()

    def clear(self) -> None:
        """Forget the faults still queued, let held responses go, and hold again from now
        on (between the examples of a fuzzing test)."""
        with self._lock:
            self._faults.clear()
            self._drop_left = 0
            gate, self._gate = self._gate, threading.Event()
        gate.set()

    @property
    def url(self) -> str:
        """The base URL, as a plain ``str``."""
        return str.__str__(self)

    def drop_next(self, count: int, mode: DropMode = "reset") -> None:
        """Make the next ``count`` requests fail.

        Modes: ``reset`` (the connection is reset, no response), ``close`` (closed with no
        response), ``truncate`` (full headers, half the body, then closed), ``503`` (a
        ``503 Service Unavailable`` response).
        """
        _check_mode(mode)
        with self._lock:
            self._drop_left = count
            self._mode = mode

    def _record(self, method: str, path: str) -> DropMode | None:
        """Note one request; the way to fail it, or None to serve it."""
        with self._lock:
            self.requests.append(f"{method} {path}")
            if method == "GET":
                self._gets[path] += 1
            queue = self._faults.get(path)
            if queue:
                self.dropped += 1
                return queue.pop(0)
            if self._drop_left <= 0:
                return None
            self._drop_left -= 1
            self.dropped += 1
            return self._mode


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"unknown drop mode {mode!r}: one of {', '.join(_MODES)}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    served: ServedDirectory

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("%s: client went away mid-response", client_address)


class _Handler(SimpleHTTPRequestHandler):
    served: ServedDirectory

    def __init__(self, request: Any, client_address: Any, server: _Server) -> None:
        self.served = server.served
        super().__init__(request, client_address, server, directory=str(server.served.root))

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        mode = self.served._record(self.command, self.path)
        if mode is None and head:
            super().do_HEAD()
        elif mode is None:
            super().do_GET()
        elif mode in ("503", "500"):
            self.send_error(int(mode), "Server error (on purpose)")
        elif mode in ("truncate", "hold", "stall", "trickle"):
            self._partial(mode)
        else:
            if mode == "reset":
                # Linger 0: close() sends RST instead of FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True

    def _partial(self, mode: DropMode) -> None:
        path = Path(self.translate_path(self.path))
        data = path.read_bytes() if path.is_file() else b"x" * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        self.wfile.flush()
        gate = self.served._gate
        try:
            if mode == "truncate":
                self.wfile.write(data[: len(data) // 2])
            elif mode == "hold":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                gate.wait()
                self.wfile.write(data[len(data) // 2 :])
            elif mode == "stall":
                gate.wait()
            else:
                for i in range(len(data)):
                    if gate.is_set():
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(self.served.trickle_interval)
        except OSError:  # the client gave up: what these modes are for
            pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


@contextmanager
def serve_directory(
    root: str | Path, *, drop_first: int = 0, drop_mode: DropMode = "reset"
) -> Iterator[ServedDirectory]:
    """Serve ``root`` over HTTP on 127.0.0.1 (a free port) while the block runs.

    Yields the base URL (a ``str`` with extra state: see :class:`ServedDirectory`). The
    first ``drop_first`` requests fail as ``drop_mode`` says, to test retries.
    """
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    served = server.served = ServedDirectory(f"http://{host!s}:{port}", Path(root).resolve())
    served.drop_next(drop_first, drop_mode)
    # A short poll interval: shutdown() waits for the loop to notice.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="poncho-http", daemon=True
    )
    thread.start()
    try:
        yield served
    finally:
        served.release()  # no handler may wait forever
        server.shutdown()
        server.server_close()
        thread.join()

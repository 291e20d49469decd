"""A real HTTP server on 127.0.0.1 serving a folder, able to misbehave on purpose."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

DropMode = Literal["reset", "close", "truncate", "503"]
_MODES = ("reset", "close", "truncate", "503")


class ServedDirectory(str):
    """The base URL of a running :func:`serve_directory` (a ``str``), with its state.

    ``url`` is the URL itself (``http://127.0.0.1:PORT``, no trailing slash), ``root`` the
    folder served, ``requests`` the ``"METHOD /path"`` of every request received (dropped
    ones included), ``dropped`` how many were dropped. :meth:`drop_next` makes the next
    requests fail.
    """

    root: Path
    requests: list[str]
    dropped: int
    _lock: threading.Lock
    _drop_left: int
    _mode: DropMode

    def __new__(cls, url: str, root: Path) -> ServedDirectory:
        """The URL string, knowing the folder it serves."""
        self = super().__new__(cls, url)
        self.root = root
        self.requests = []
        self.dropped = 0
        self._lock = threading.Lock()
        self._drop_left = 0
        self._mode = "reset"
        return self

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
        if mode not in _MODES:
            raise ValueError(f"unknown drop mode {mode!r}: one of {', '.join(_MODES)}")
        with self._lock:
            self._drop_left = count
            self._mode = mode

    def _record(self, line: str) -> DropMode | None:
        """Note one request; the way to fail it, or None to serve it."""
        with self._lock:
            self.requests.append(line)
            if self._drop_left <= 0:
                return None
            self._drop_left -= 1
            self.dropped += 1
            return self._mode


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    served: ServedDirectory


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
        mode = self.served._record(f"{self.command} {self.path}")
        if mode is None and head:
            super().do_HEAD()
        elif mode is None:
            super().do_GET()
        elif mode == "503":
            self.send_error(503, "Service Unavailable (dropped on purpose)")
        elif mode == "truncate":
            self._truncate()
        else:
            if mode == "reset":
                # Linger 0: close() sends RST instead of FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True

    def _truncate(self) -> None:
        path = Path(self.translate_path(self.path))
        data = path.read_bytes() if path.is_file() else b"x" * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

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
        server.shutdown()
        server.server_close()
        thread.join()

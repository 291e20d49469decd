"""gzip decompressed in this process by a thread that runs ahead of the reader.

zlib releases the GIL while it inflates, so the thread decompresses on one core while the
reader parses tar headers and `poncho_core._writers` write files on another, as ``tar xzf``
does with a ``gzip`` process, but without the pipe and with less CPU. The fastest deflate
importable is used: ISA-L (``isal``, which the ``fast`` extra of poncho-core and poncho-run
installs) or zlib-ng (``zlib-ng``), else the standard library's zlib.

Measured (2026-12-07, the 2-core benchmark machine while other jobs ran, Python 3.13; the
benchmarks' large environment, a 412 MB tar of 31,700 files in 122 MB of gzip): CPU seconds
to decompress it to nowhere, best of 3: GNU ``gzip -dc`` 1.85, ``zlib`` 1.0 to 1.3,
``isal`` 0.44, ``zlib-ng`` 0.43. Extracting it into tmpfs (best wall, CPU): through the
``gzip`` program 3.8 s (3.5 s), zlib in-process 2.7 s (2.5 s), ISA-L 2.2 s (1.9 s).

Every member of a multi-member stream (concatenated gzip files, as parallel writers make) is
decompressed, with zero padding between members accepted as gzip does. Input that ends
inside a member, a bad checksum or other garbage is an `UnsupportedArchive`. Memory stays
bounded whatever the input (a few chunks of at most `_OUT` bytes are queued), and the
reader's `check` sees every byte before it is handed on (decompression-bomb limits).
"""

from __future__ import annotations

import importlib
import io
import queue
import threading
from collections.abc import Callable
from typing import IO, Any

from poncho_core.errors import UnsupportedArchive

__all__ = ["DEFLATE_MODULES", "GzipReader", "deflate_module", "stop_producer"]

#: The deflate implementations tried, fastest first (each with zlib's API).
DEFLATE_MODULES = ("isal.isal_zlib", "zlib_ng.zlib_ng", "zlib")
# Compressed bytes per read, and at most this much output per inflate call (a bomb's
# output comes in bounded pieces). Big calls: each one gives the GIL back to the reader.
_IN = 1 << 20
_OUT = 8 << 20
_AHEAD = 8
_GZIP_WBITS = 31


def stop_producer(stop: threading.Event, items: queue.Queue[Any], thread: threading.Thread) -> None:
    """Set `stop` and wait for `thread`, which puts into `items` until `stop` is set:
    what it queued is dropped (a full queue would block its put)."""
    stop.set()
    while thread.is_alive():
        try:
            while True:
                items.get_nowait()
        except queue.Empty:
            pass
        thread.join(0.01)


def deflate_module(candidates: tuple[str, ...] = DEFLATE_MODULES) -> Any:
    """The first of `candidates` that imports (the standard ``zlib`` at worst)."""
    for name in candidates:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return importlib.import_module("zlib")


class GzipReader(io.RawIOBase):
    """The decompressed bytes of the gzip stream `source` (read from its current position),
    decompressed by a thread with `module` (`deflate_module`'s by default). `label` names the
    input in messages; `check`, when given, is called with the count of bytes handed out
    (this read's included) before each read returns them, and may raise. Close it to stop
    the thread."""

    def __init__(
        self,
        source: IO[bytes],
        label: str,
        module: Any = None,
        check: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self._label = label
        self._check = check
        self.count = 0
        self._chunk = memoryview(b"")
        self._done = False
        self._stop = threading.Event()
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(_AHEAD)
        self._thread = threading.Thread(
            target=self._produce,
            args=(source, module if module is not None else deflate_module()),
            name="poncho-inflate",
            daemon=True,
        )
        self._thread.start()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._chunk
        if not chunk:
            if self._done:
                return 0
            item = self._queue.get()
            if item is None or isinstance(item, BaseException):
                self._done = True
                if item is None:
                    return 0
                raise item
            chunk = memoryview(item)
        size = min(len(buffer), len(chunk))
        self.count += size
        if self._check is not None:
            self._check(self.count)  # before any byte past a limit is handed out
        buffer[:size] = chunk[:size]
        self._chunk = chunk[size:]
        return size

    def drain(self, limit: int) -> None:
        """Read on, up to `limit` bytes, without `check`: if the stream ends within them its
        whole input was checked (an error is raised here); past them it is left unchecked."""
        self._check = None
        self._chunk = memoryview(b"")
        while limit > 0 and not self._done:
            item = self._queue.get()
            if item is None or isinstance(item, BaseException):
                self._done = True
                if item is not None:
                    raise item
            else:
                limit -= len(item)

    def close(self) -> None:
        """Stop the thread (what it has not decompressed yet is dropped)."""
        stop_producer(self._stop, self._queue, self._thread)
        super().close()

    def _produce(self, source: IO[bytes], module: Any) -> None:
        try:
            self._inflate(source, module)
        except module.error as exc:
            self._put(UnsupportedArchive(f"{self._label}: corrupt or truncated archive ({exc})"))
        except BaseException as exc:  # handed to the reader, who raises it
            self._put(exc)
        else:
            self._put(None)

    def _put(self, item: bytes | BaseException | None) -> None:
        if not self._stop.is_set():
            self._queue.put(item)

    def _inflate(self, source: IO[bytes], module: Any) -> None:
        member = None  # the current member's decompressor
        while not self._stop.is_set():
            data = source.read(_IN)
            if not data:
                break
            while data:
                if member is None:
                    if data[0] == 0:  # padding after a member, which gzip accepts
                        data = data.lstrip(b"\0")
                        if not data:
                            break
                    member = module.decompressobj(_GZIP_WBITS)
                out = member.decompress(data, _OUT)
                if out:
                    self._put(out)
                if member.eof:
                    data = member.unused_data
                    member = None
                else:
                    data = member.unconsumed_tail
                    if not data and len(out) == _OUT:
                        data = b""  # more output may be pending: ask again without input
                        while len(out) == _OUT and not member.eof:
                            out = member.decompress(b"", _OUT)
                            if out:
                                self._put(out)
                        if member.eof:
                            data = member.unused_data
                            member = None
                if self._stop.is_set():
                    return
        if member is not None and not self._stop.is_set():
            raise UnsupportedArchive(
                f"{self._label}: corrupt or truncated archive (the gzip stream ends early)"
            )

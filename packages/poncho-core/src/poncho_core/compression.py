"""Recognise compressed data by its first bytes and read it decompressed, within limits.

Formats: gzip, zstd, bzip2 and xz, told apart by their magic bytes, never by a file name
(a name or a spec's ``compression`` value is at most a hint). Plain data reads as it is.

gzip is decompressed in this process by a thread ahead of the reader (`poncho_core._inflate`,
which has the figures); zstd, bzip2 and xz by the format's program when it is on PATH, as
``tar -x`` does (one core decompresses while this process writes on another), else
in-process: zstd then needs Python 3.14's ``compression.zstd`` or ``zstandard`` (the
``zstd`` extra of poncho-core, poncho-run and poncho-fetch). The programs stay where they
are not slower (CPU seconds for the first 100 MB of the benchmarks' large tar, 2026-12-07,
loaded 2-core machine): ``zstd -dc`` 0.10, ``zstandard`` 0.14; ``xz -dc`` 1.11, ``lzma``
1.28; ``bzip2 -dc`` 4.08, ``bz2`` 3.93 (even: the program keeps its own core).

Hostile input is bounded while it streams, before anything is written (`Limits`): at most
`max_bytes` decompressed bytes, and at most `max_ratio` times the compressed size (a 1 MB
gzip of zeros would otherwise write a GiB), where small inputs may always expand to
`RATIO_FLOOR`.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from poncho_core._inflate import GzipReader
from poncho_core.errors import LimitExceeded, UnsupportedArchive

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_MAX_RATIO",
    "RATIO_FLOOR",
    "Limits",
    "decompressed_name",
    "normalize_compression",
    "open_decompressed",
    "sniff",
]

#: The compressions `sniff` recognises.
COMPRESSIONS = ("gzip", "zstd", "bzip2", "xz")

DEFAULT_MAX_RATIO = 100.0
"""Largest decompressed/compressed size ratio accepted by default for downloaded data."""
RATIO_FLOOR = 64 << 20
"""Bytes any compressed input may expand to, whatever its ratio."""

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_ALIASES = {
    "gzip": "gzip",
    "gz": "gzip",
    "tgz": "gzip",
    "bzip2": "bzip2",
    "bz2": "bzip2",
    "xz": "xz",
    "lzma": "xz",
    "zstd": "zstd",
    "zst": "zstd",
    "zstandard": "zstd",
}
_NONE = frozenset(("", "none", "identity", "uncompressed"))
_TAR_SUFFIXES = (".tgz", ".tbz2", ".txz")
# Longest first, so that ".tgz" wins over ".gz".
_SUFFIXES = (*_TAR_SUFFIXES, ".gzip", ".zstd", ".bz2", ".zst", ".gz", ".xz")
_BUFFER = 1 << 20
# Past a tar's end-of-archive marker, how much more output is read before the decompressor
# is stopped (tar pads to 10 KiB records; gzip -9 tars seldom carry more).
_MAX_DRAIN = 4 << 20


def sniff(head: bytes) -> str | None:
    """The compression (one of `COMPRESSIONS`) the first bytes of some data show, or None
    for data that is not compressed."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def is_tar(head: bytes) -> bool:
    """Whether the first 512 bytes of uncompressed data are a POSIX or GNU tar header."""
    return head[257:262] == b"ustar"


def normalize_compression(name: str | None) -> str | None:
    """The canonical name ("gzip", "bzip2", "xz", "zstd") of a compression hint, or None.

    Unknown names are kept (lowercased): sniffing the content decides in the end.
    """
    if name is None or name.strip().lower() in _NONE:
        return None
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def decompressed_name(name: str) -> str:
    """A file name with its compression suffix removed (``x.tgz`` becomes ``x.tar``)."""
    lower = name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + (".tar" if suffix in _TAR_SUFFIXES else "")
    return name


class Limits:
    """Bounds on what decompressing an input may produce: `max_bytes` (None: no bound) and
    `max_ratio` times the input's size (None or 0: no bound; never below `RATIO_FLOOR`);
    `max_bytes_source` says what `max_bytes` is, for messages ("the cache's --max-size").

    A plain class, not a dataclass: the worker's cold path imports this module, and
    ``dataclasses`` costs it ``inspect``.
    """

    __slots__ = ("max_bytes", "max_bytes_source", "max_ratio")

    def __init__(
        self,
        max_bytes: int | None = None,
        max_ratio: float | None = None,
        max_bytes_source: str = "",
    ) -> None:
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.max_bytes_source = max_bytes_source

    def __repr__(self) -> str:
        return f"Limits(max_bytes={self.max_bytes!r}, max_ratio={self.max_ratio!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Limits):
            return NotImplemented
        return (self.max_bytes, self.max_ratio, self.max_bytes_source) == (
            other.max_bytes,
            other.max_ratio,
            other.max_bytes_source,
        )

    __hash__ = None  # type: ignore[assignment]

    def budget(self, name: str, compressed: int) -> list[tuple[int, str]]:
        """The byte limits for an input of `compressed` bytes, each with its wording."""
        found: list[tuple[int, str]] = []
        if self.max_bytes is not None:
            source = f" ({self.max_bytes_source})" if self.max_bytes_source else ""
            found.append((self.max_bytes, f"the limit of {self.max_bytes:,} bytes{source}"))
        if self.max_ratio:
            allowed = max(int(self.max_ratio * compressed), RATIO_FLOOR)
            found.append(
                (allowed, f"{self.max_ratio:g} times its compressed size of {compressed} bytes")
            )
        return found


def check_budget(name: str, budget: list[tuple[int, str]], count: int, what: str) -> None:
    """Raise `LimitExceeded` if `count` bytes pass one of `budget`'s limits."""
    for limit, said in budget:
        if count > limit:
            raise LimitExceeded(f"{name}: {what} size over {said} (a decompression bomb?); stopped")


@contextmanager
def open_decompressed(
    path: str | os.PathLike[str],
    *,
    use_programs: bool = True,
    limits: Limits | None = None,
    name: str | None = None,
) -> Iterator[IO[bytes]]:
    """Open the file at `path` and yield a readable stream of its decompressed bytes.

    With `use_programs` (the default) the format's program is used when it is on PATH
    (gzip is always decompressed in-process: see the module docstring).
    `limits` bound the bytes read from the stream (`LimitExceeded`). A corrupt or
    truncated input raises `UnsupportedArchive` when the stream is read or closed. `name`
    stands for `path` in messages.
    """
    label = name or os.fspath(path)
    with open(path, "rb", buffering=0) as raw:
        # pread: the file offset stays at 0 for the program, which reads the descriptor.
        kind = sniff(os.pread(raw.fileno(), 8, 0))
        size = os.fstat(raw.fileno()).st_size
        budget = limits.budget(label, size) if limits is not None else []
        if kind == "gzip":
            with _inflated(raw, label, budget) as stream:
                yield stream
            return
        program = shutil.which(kind) if use_programs and kind is not None else None
        if program is not None:
            with _program_stream(program, raw, label) as stream:
                yield _bounded(stream, label, budget)
            return
        buffered = io.BufferedReader(raw, _BUFFER)
        if kind is None:
            yield _bounded(buffered, label, budget)
            return
        decompressed = _decompressor(kind, buffered, label)
        try:
            yield _bounded(io.BufferedReader(_Checked(decompressed, label), _BUFFER), label, budget)
        finally:
            decompressed.close()


@contextmanager
def _inflated(raw: IO[bytes], label: str, budget: list[tuple[int, str]]) -> Iterator[IO[bytes]]:
    def check(count: int) -> None:
        check_budget(label, budget, count, "decompressed")

    inflater = GzipReader(raw, label, check=check if budget else None)
    try:
        yield io.BufferedReader(inflater, _BUFFER)
        # As with a program: what follows the reader's end is read (within _MAX_DRAIN), so
        # that a damaged or truncated end of the stream is an error too.
        inflater.drain(_MAX_DRAIN)
    finally:
        inflater.close()


def _bounded(stream: IO[bytes], label: str, budget: list[tuple[int, str]]) -> IO[bytes]:
    if not budget:
        return stream
    return io.BufferedReader(_Counted(stream, label, budget), _BUFFER)


@contextmanager
def _program_stream(program: str, raw: IO[bytes], label: str) -> Iterator[IO[bytes]]:
    # The program reads the open file (stdin), so a name starting with "-" or a file
    # replaced meanwhile changes nothing. Its stderr goes to a pipe read only at the end:
    # decompressors write a line at most.
    proc = subprocess.Popen(
        [program, "-dc"],
        stdin=raw,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=_BUFFER,
    )
    assert proc.stdout is not None and proc.stderr is not None
    _grow_pipe(proc.stdout.fileno())
    drained = True
    try:
        yield proc.stdout
        # Read what the reader left (end-of-archive padding) so the decompressor exits
        # normally, and its status says whether the input was whole. Past _MAX_DRAIN, what
        # follows the archive's end is not read at all (a bomb may hide there): the program
        # is stopped, and its status no longer counts.
        left = _MAX_DRAIN
        while left > 0 and (chunk := proc.stdout.read(min(left, _BUFFER))):
            left -= len(chunk)
        if left <= 0:
            proc.kill()
            proc.wait()
            drained = False
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.stdout.close()
        message = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        status = proc.wait()
    if status != 0 and drained:
        raise UnsupportedArchive(
            f"{label}: corrupt or truncated archive "
            f"({Path(program).name} exited with status {status}: {message})"
        )


def _grow_pipe(fd: int) -> None:
    # A pipe holds 64 KiB by default: the reader then wakes up (and the decompressor waits
    # for it) every 64 KiB. Linux lets a pipe grow to 1 MiB without privileges.
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _BUFFER)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or a lower limit: the default size works


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _decompressor(kind: str, raw: IO[bytes], label: str) -> _Reader:
    if kind == "bzip2":  # gzip: _inflated
        import bz2

        return bz2.BZ2File(raw, mode="rb")
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw, mode="rb")
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        return zstd.ZstdFile(raw, mode="rb")  # type: ignore[no-any-return,unused-ignore]
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise UnsupportedArchive(
            f"{label}: is zstd-compressed, and neither the zstd program nor the zstandard "
            "module is available: install one (pip install zstandard)"
        ) from None
    return _ZstdFrames(raw, zstandard)


class _ZstdFrames:
    """zstd frames one after the other, decoded with ``zstandard``'s decompression objects:
    unlike its ``stream_reader``, input that ends inside a frame is an error (a truncated
    archive must never pass for a short one)."""

    def __init__(self, raw: IO[bytes], zstandard: Any) -> None:
        self._raw = raw
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._obj = self._new()
        self._in_frame = False
        self._out = b""

    def read(self, size: int = -1, /) -> bytes:
        while not self._out:
            chunk = self._raw.read(_BUFFER)
            if not chunk:
                if self._in_frame:
                    raise EOFError("input ends inside a zstd frame")
                return b""
            self._out = self._feed(chunk)
        if size < 0 or size >= len(self._out):
            data, self._out = self._out, b""
        else:
            data, self._out = self._out[:size], self._out[size:]
        return data

    def _feed(self, chunk: bytes) -> bytes:
        parts = []
        while chunk:
            self._in_frame = True
            parts.append(self._obj.decompress(chunk))
            if not self._obj.eof:
                break
            chunk = self._obj.unused_data  # the next frame starts here
            self._obj = self._new()
            self._in_frame = False
        return b"".join(parts)

    def close(self) -> None:
        self._out = b""


class _Checked(io.RawIOBase):
    """A raw reader over a decompressor that reports decoding errors as `UnsupportedArchive`."""

    def __init__(self, inner: _Reader, label: str) -> None:
        self._inner = inner
        self._label = label

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except Exception as exc:  # each decompressor has its own error types
            message = f"{self._label}: corrupt or truncated archive ({exc})"
            raise UnsupportedArchive(message) from exc
        buffer[: len(data)] = data
        return len(data)


class _Counted(io.RawIOBase):
    """A raw reader that counts the bytes it passes against a budget."""

    def __init__(self, inner: IO[bytes], label: str, budget: list[tuple[int, str]]) -> None:
        self._inner = inner
        self._label = label
        self._budget = budget
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self.count += len(data)
        check_budget(self._label, self._budget, self.count, "decompressed")
        buffer[: len(data)] = data
        return len(data)

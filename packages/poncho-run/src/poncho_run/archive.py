"""Recognise an environment archive by its content and open it as a stream of tar bytes.

Formats (conda-pack's and poncho_package_create's): ``.tar.gz``, ``.tar.zst``,
``.tar.bz2``, ``.tar.xz`` and plain ``.tar``, told apart by their magic bytes, never by the
file name alone.

Decompression runs in a separate process when the format's standard program (``gzip``,
``zstd``, ``bzip2``, ``xz``) is on PATH, as ``tar -x`` does: the archive is then decompressed
on one core while this process writes files on another. Without the program, the
standard library does the work in-process; zstd then needs Python 3.14's
``compression.zstd`` or the ``zstandard`` module (``pip install poncho-run[zstd]``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from poncho_run.errors import EnvironmentNotFound, RunError, UnsupportedArchive

__all__ = ["FORMATS", "open_archive", "sniff"]

#: Archive formats poncho-run reads, as `sniff` names them.
FORMATS = ("gzip", "zstd", "bzip2", "xz", "tar")

_PROGRAMS = {"gzip": "gzip", "zstd": "zstd", "bzip2": "bzip2", "xz": "xz"}
_BUFFER = 1 << 20


def sniff(path: str | os.PathLike[str]) -> str:
    """Name the format of the archive at `path` (one of `FORMATS`) from its first bytes.

    Raises `EnvironmentNotFound` if it does not exist and `UnsupportedArchive` if it is
    not one of the formats.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(262)
    except FileNotFoundError as exc:
        raise EnvironmentNotFound(f"{os.fspath(path)}: no such environment file") from exc
    except OSError as exc:
        raise RunError(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from exc
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    raise UnsupportedArchive(
        f"{os.fspath(path)}: not an environment archive (expected a tar, tar.gz, tar.zst, "
        "tar.bz2 or tar.xz made by poncho_package_create or conda-pack)"
    )


@contextmanager
def open_archive(path: str | os.PathLike[str], *, use_programs: bool = True) -> Iterator[IO[bytes]]:
    """Open the archive at `path` and yield a readable stream of its uncompressed tar bytes.

    With `use_programs` (the default) the format's decompression program is used when it is
    on PATH; otherwise, or without it, Python decompresses. A corrupt archive raises
    `UnsupportedArchive` when the stream is closed or read.
    """
    fmt = sniff(path)
    program = shutil.which(_PROGRAMS[fmt]) if use_programs and fmt in _PROGRAMS else None
    if program is not None:
        with _program_stream(program, path) as stream:
            yield stream
        return
    with _python_stream(fmt, path) as stream:
        yield stream


@contextmanager
def _program_stream(program: str, path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    # stderr goes to a pipe read only at the end: decompressors write a line at most.
    proc = subprocess.Popen(
        [program, "-dc", "--", os.fspath(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=_BUFFER,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        yield proc.stdout
        # Read what the tar reader left (end-of-archive padding) so the decompressor
        # exits normally instead of dying of SIGPIPE.
        while proc.stdout.read(_BUFFER):
            pass
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.stdout.close()
        message = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        status = proc.wait()
    if status != 0:
        raise UnsupportedArchive(
            f"{os.fspath(path)}: corrupt or truncated archive "
            f"({Path(program).name} exited with status {status}: {message})"
        )


@contextmanager
def _python_stream(fmt: str, path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    with open(path, "rb", buffering=_BUFFER) as raw:
        if fmt == "tar":
            yield raw
            return
        decompressed = _decompressor(fmt, raw, path)
        try:
            yield io.BufferedReader(_Checked(decompressed, path), _BUFFER)
        finally:
            decompressed.close()


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _decompressor(fmt: str, raw: IO[bytes], path: str | os.PathLike[str]) -> _Reader:
    if fmt == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    if fmt == "bzip2":
        import bz2

        return bz2.BZ2File(raw, mode="rb")
    if fmt == "xz":
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
            f"{os.fspath(path)}: is zstd-compressed, and neither the zstd program nor the "
            "zstandard module is available: install one (pip install 'poncho-run[zstd]')"
        ) from None
    reader: _Reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=_BUFFER)
    return reader


class _Checked(io.RawIOBase):
    """A raw reader over a decompressor that reports decoding errors as `UnsupportedArchive`."""

    def __init__(self, inner: _Reader, path: str | os.PathLike[str]) -> None:
        self._inner = inner
        self._path = os.fspath(path)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except Exception as exc:  # each decompressor has its own error types
            raise UnsupportedArchive(f"{self._path}: corrupt or truncated archive ({exc})") from exc
        buffer[: len(data)] = data
        return len(data)

"""Writing the indexed tarball layout of `poncho_core.tarindex` (docs/dev/contracts.md).

What goes into which member, and in which order, is the caller's (poncho-create groups an
environment's files by package); this module writes the bytes: tar headers (PAX format, as
``tarfile`` and conda-pack write them), one compressed member per group, members copied
verbatim from another indexed archive, then the index member, the end of the gzip stream
(its CRC-32 combined from the members', `poncho_core._crc`) and the footer.

The same entries, compression and level always give the same bytes (gzip members are made of
256 KiB blocks each compressed alone, zstd frames single-threaded, no name and no time in
the gzip header), so `member_key`, computed before compressing, names the compressed member:
a member of an earlier archive with the same key can be copied instead of compressed again.
"""

from __future__ import annotations

import collections
import hashlib
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from poncho_core._crc import crc32_combine
from poncho_core.tarfooter import GZIP_HEADER
from poncho_core.tarindex import (
    INDEX_NAME,
    IndexedFile,
    IndexedMember,
    TarIndex,
    footer,
)

__all__ = [
    "Compressed",
    "Entry",
    "IndexedTarWriter",
    "compress_member",
    "member_key",
    "record_of",
]

_BLOCK = 512
_CHUNK = 1 << 20
_KEY_VERSION = b"poncho-member-1\n"
_GZIP_BLOCK = 256 * 2**10
_FINAL_BLOCK = b"\x03\x00"  # an empty final deflate block: the end of the gzip stream


class Compressed(NamedTuple):
    """What `compress_member` wrote: decompressed and compressed sizes, the sha256 of the
    compressed bytes, the CRC-32 of the decompressed ones (gzip; 0 for zstd)."""

    usize: int
    size: int
    sha256: str
    crc32: int


@dataclass
class Entry:
    """One tar entry to write: `info` (name, type, mode, mtime, owner as they will be
    stored; a regular file's ``size`` must be its data's), its data from the file `source`
    or from `data`, `sha256` of that data ("" for entries without data, or not yet known:
    `compress_member` then computes it), and whether it holds the build `prefix`."""

    info: tarfile.TarInfo
    source: str | None = None
    data: bytes | None = None
    sha256: str = ""
    prefix: bool = False

    def header(self) -> bytes:
        """The entry's tar header block(s)."""
        return self.info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def record_of(entry: Entry, member: int) -> IndexedFile:
    """The index record of `entry`, in member number `member`."""
    info = entry.info
    if info.isreg():
        kind = "file"
    elif info.isdir():
        kind = "dir"
    elif info.issym():
        kind = "symlink"
    elif info.islnk():
        kind = "hardlink"
    else:
        raise ValueError(f"{info.name}: no index record for this kind of entry")
    return IndexedFile(
        path=info.name.removeprefix("./"),
        type=kind,
        mode=info.mode & 0o7777,
        size=info.size if kind == "file" else 0,
        sha256=entry.sha256 if kind == "file" else "",
        member=member,
        prefix=entry.prefix,
        link=info.linkname if kind in ("symlink", "hardlink") else "",
    )


def member_key(entries: Sequence[Entry], compression: str, level: int) -> str:
    """The digest naming the compressed member `entries` give (every entry's header and
    data digest, the compression and its level). Every regular file needs its `sha256`."""
    digest = hashlib.sha256(_KEY_VERSION + f"{compression}:{level}\n".encode())
    for entry in entries:
        if entry.info.isreg() and not entry.sha256:
            raise ValueError(f"{entry.info.name}: no sha256 to key its member with")
        digest.update(entry.header())
        digest.update(entry.sha256.encode() + b"\n")
    return digest.hexdigest()


def compress_member(
    entries: Iterable[Entry], compression: str, level: int, out: IO[bytes], *, threads: int = 1
) -> Compressed:
    """Write `entries` as one compressed member to `out` (gzip: raw deflate ended by a full
    flush, the piece of the archive's one gzip stream; zstd: one frame); returns its sizes
    and digests (`Compressed`). An entry's data is checked against
    its `sha256` when one is given, and the digest recorded otherwise (ValueError: the file
    changed while it was packed). `threads` > 1 compresses a gzip member's blocks on that
    many threads (the same bytes: a large member need not take one core alone)."""
    compressor = _compressor(compression, level, threads)
    digest = hashlib.sha256()
    usize = csize = 0

    def put(data: bytes) -> None:
        nonlocal usize, csize
        usize += len(data)
        packed = compressor.compress(data)
        if packed:
            digest.update(packed)
            out.write(packed)
            csize += len(packed)

    for entry in entries:
        put(entry.header())
        if not entry.info.isreg():
            continue
        data_digest = hashlib.sha256()
        size = 0
        for chunk in _data(entry):
            data_digest.update(chunk)
            size += len(chunk)
            put(chunk)
        if size != entry.info.size:
            raise ValueError(f"{entry.info.name}: {size} bytes, {entry.info.size} expected")
        seen = data_digest.hexdigest()
        if entry.sha256 and entry.sha256 != seen:
            raise ValueError(f"{entry.info.name}: changed while it was packed")
        entry.sha256 = seen
        if size % _BLOCK:
            put(b"\0" * (_BLOCK - size % _BLOCK))
    tail = compressor.flush()
    digest.update(tail)
    out.write(tail)
    crc = compressor.crc if compression == "gzip" else 0
    return Compressed(usize, csize + len(tail), digest.hexdigest(), crc)


class IndexedTarWriter:
    """Members appended one after the other to `handle` (at its current position, taken
    as offset 0; gzip: after the stream's header, which the writer writes first), then
    `finish` writes the index, the end of the stream and the footer."""

    def __init__(self, handle: IO[bytes], compression: str, level: int) -> None:
        if compression not in ("gzip", "zstd"):
            raise ValueError(f"no indexed layout for {compression!r}")
        self._handle = handle
        self.compression = compression
        self.level = level
        self._members: list[IndexedMember] = []
        self._files: list[IndexedFile] = []
        self._offset = 0
        self._crc = 0  # of the decompressed stream so far (gzip)
        self._usize = 0
        if compression == "gzip":
            handle.write(GZIP_HEADER)
            self._offset = len(GZIP_HEADER)

    @property
    def count(self) -> int:
        """How many members were appended."""
        return len(self._members)

    def add(
        self,
        name: str,
        entries: Sequence[Entry],
        key: str = "",
        *,
        records: Sequence[IndexedFile] | None = None,
    ) -> IndexedMember:
        """Compress `entries` into a new member named `name`. `records` replace the index
        records the entries give (tests writing an index that lies)."""
        done = compress_member(entries, self.compression, self.level, self._handle)
        return self._added(name, done, key, entries, records)

    def append(
        self,
        name: str,
        source: IO[bytes],
        size: int,
        *,
        usize: int,
        sha256: str,
        entries: Sequence[Entry],
        key: str = "",
        crc32: int = 0,
    ) -> IndexedMember:
        """Copy a member compressed elsewhere (by `compress_member` into a buffer, or
        from an earlier archive: `source` at its offset) of `size` bytes whose digest must
        be `sha256` (ValueError otherwise; the archive is then unusable); `crc32` is the
        CRC-32 of its decompressed bytes (gzip)."""
        digest = hashlib.sha256()
        left = size
        while left:
            chunk = source.read(min(left, _CHUNK))
            if not chunk:
                raise ValueError(f"member {name}: its source ends early")
            digest.update(chunk)
            self._handle.write(chunk)
            left -= len(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(f"member {name}: its bytes do not match their digest")
        return self._added(name, Compressed(usize, size, sha256, crc32), key, entries, None)

    def finish(
        self, mtime: int, *, edit: Callable[[TarIndex], TarIndex | bytes] | None = None
    ) -> TarIndex:
        """Write the index member (entry `INDEX_NAME` with mode 0644 and `mtime`, then the
        tar end marker), the end of the gzip stream and the footer; returns the index
        written. `edit` may replace the index, or its document's bytes (tests)."""
        index = TarIndex(self.compression, tuple(self._members), tuple(self._files))
        edited = edit(index) if edit is not None else index
        document = edited if isinstance(edited, bytes) else edited.to_json()
        info = tarfile.TarInfo(INDEX_NAME)
        info.size, info.mode, info.mtime = len(document), 0o644, mtime
        raw = Entry(info).header() + document + b"\0" * ((-len(document)) % _BLOCK + 2 * _BLOCK)
        if self.compression == "gzip":
            data = _deflate_block(raw, self.level)
            crc = crc32_combine(self._crc, zlib.crc32(raw), len(raw))
            size = (self._usize + len(raw)) & 0xFFFFFFFF
            end = _FINAL_BLOCK + struct.pack("<II", crc, size)
        else:
            compressor = _compressor(self.compression, self.level)
            data, end = bytes(compressor.compress(raw)) + bytes(compressor.flush()), b""
        self._handle.write(data + end)
        self._handle.write(footer(self.compression, self._offset, len(data)))
        return TarIndex(self.compression, index.members, index.files, self._offset, len(data))

    def _added(
        self,
        name: str,
        done: Compressed,
        key: str,
        entries: Sequence[Entry],
        records: Sequence[IndexedFile] | None,
    ) -> IndexedMember:
        member = IndexedMember(
            name, self._offset, done.size, done.usize, done.sha256, key, done.crc32
        )
        number = len(self._members)
        self._members.append(member)
        if records is None:
            self._files.extend(record_of(entry, number) for entry in entries)
        else:
            self._files.extend(records)
        self._offset += done.size
        self._crc = crc32_combine(self._crc, done.crc32, done.usize)
        self._usize += done.usize
        return member


def _data(entry: Entry) -> Iterable[bytes]:
    if entry.data is not None:
        yield entry.data
        return
    if entry.source is None:
        raise ValueError(f"{entry.info.name}: a regular file with no data")
    with open(entry.source, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


class _Zlib:
    """A member of the archive's gzip stream: blocks of `_GZIP_BLOCK` bytes each compressed
    alone (raw deflate ended by a full flush, as pigz and conda-pack's parallel writer do),
    no header, no final block (the writer adds them once, around all members). A block's
    bytes depend on it alone, so blocks can be compressed on `threads` threads, in any
    number, with the same result; `crc` is the CRC-32 of the data given."""

    def __init__(self, level: int, threads: int = 1) -> None:
        self._level = level
        self.crc = 0
        self._buffer = bytearray()
        self._threads = threads
        self._pool: Any = None
        self._running: collections.deque[Any] = collections.deque()
        self._emitted = False

    def compress(self, data: bytes) -> bytes:
        self.crc = zlib.crc32(data, self.crc)
        self._buffer += data
        out = bytearray()
        if len(self._buffer) >= _GZIP_BLOCK:
            whole = len(self._buffer) - len(self._buffer) % _GZIP_BLOCK
            view = memoryview(self._buffer)
            for start in range(0, whole, _GZIP_BLOCK):
                out += self._block(bytes(view[start : start + _GZIP_BLOCK]))
            view.release()
            del self._buffer[:whole]
        return bytes(out)

    def flush(self) -> bytes:
        out = bytearray()
        if self._buffer or not self._emitted:
            out += self._block(bytes(self._buffer))  # an empty member is one empty flush
            self._buffer.clear()
        while self._running:
            out += self._running.popleft().result()
        if self._pool is not None:
            self._pool.shutdown()
        return bytes(out)

    def _block(self, block: bytes) -> bytes:
        """The compressed blocks ready in order (with threads, the oldest ones done)."""
        self._emitted = True
        if self._threads <= 1:
            return _deflate_block(block, self._level)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="poncho-gzip")
        self._running.append(self._pool.submit(_deflate_block, block, self._level))
        out = bytearray()
        while len(self._running) > 2 * self._threads or (self._running and self._running[0].done()):
            out += self._running.popleft().result()
        return bytes(out)


def _deflate_block(block: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)


def _compressor(compression: str, level: int, threads: int = 1) -> Any:
    """A compressor writing one complete gzip member or zstd frame (zstd: single-threaded)."""
    if compression == "gzip":
        return _Zlib(level, threads)
    if compression != "zstd":
        raise ValueError(f"no indexed layout for {compression!r}")
    try:
        import zstandard
    except ImportError:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        return zstd.ZstdCompressor(level=level)
    return zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj()

"""One member of an indexed tarball (`poncho_core.tarindex`) decompressed ahead of its
reader, and checked against the index: the extractor reads its tar entries from
`MemberReader.read` while a thread reads the member's compressed bytes and decompresses
them (zlib, ISA-L, zlib-ng and zstd release the GIL, as do sha256 and crc32 on big
buffers), as `poncho_core._inflate` does for a whole stream: decoding and parsing overlap.

What the index says is checked as the bytes come: never more output than `usize` (a bomb
stops there), and, once the entries are read (`MemberReader.finish`), exactly `usize`
bytes from exactly one member (gzip: raw deflate ended by a full flush, no final block,
with the index's CRC-32; zstd: one frame) whose compressed bytes have the index's sha256.
Everything else is `BadIndex`, naming the archive and the member; when the bytes are not
the index's, the digest is what the error names.

Memory stays bounded: a chunk of compressed input and a few pieces of output at a time. gzip
is inflated with the fastest deflate importable (`poncho_core._inflate.deflate_module`).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from typing import Any

from poncho_core._inflate import deflate_module, stop_producer
from poncho_core.errors import UnsupportedArchive
from poncho_core.tarindex import BadIndex, IndexedMember

__all__ = ["MemberReader"]

_IN = 1 << 20  # compressed bytes read at a time
_OUT = 4 << 20  # most output per decompression call
_AHEAD = 4  # pieces of output decompressed ahead of the reader
_ZSTD_IN = 1 << 14  # zstandard's objects take no output bound: feed them small pieces
_FLUSHED = b"\x00\x00\xff\xff"  # the end of a full flush (an empty stored block)


class MemberReader:
    """The decompressed bytes of `member` of the `compression` archive at `path`; `label`
    names the archive in messages. With `digest` False the compressed bytes' sha256 is not
    checked (the index member, which has none), nor the exact size: `member.usize` is then
    only a bound. Close it (or use it as a context manager): that stops its thread."""

    def __init__(
        self,
        path: str,
        compression: str,
        member: IndexedMember,
        label: str,
        *,
        digest: bool = True,
    ) -> None:
        self._member = member
        self._label = label
        self._digest = hashlib.sha256() if digest else None
        self._decoder = _decoder(compression, label)
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by close())
        self._file.seek(member.offset)
        self._left = member.size  # compressed bytes not read yet
        self.count = 0  # decompressed bytes produced
        self._crc = 0  # of the output (gzip)
        self._tail = b""  # the last compressed bytes read (gzip: a full flush's end)
        self._digest_error: BadIndex | None = None  # set once every byte was read
        self._out = memoryview(b"")
        self._ended: BaseException | bool | None = False  # the thread's last item, once seen
        self._stop = threading.Event()
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(_AHEAD)
        self._thread = threading.Thread(target=self._produce, name="poncho-member", daemon=True)
        self._thread.start()

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread (what it has not decompressed yet is dropped); close the file."""
        stop_producer(self._stop, self._queue, self._thread)
        self._file.close()

    def read(self, size: int) -> bytes:
        """Up to `size` decompressed bytes (b"" at the member's end)."""
        if not self._out and not self._next():
            return b""
        data = self._out[:size]
        self._out = self._out[len(data) :]
        return bytes(data)

    def finish(self) -> None:
        """Check the member was read whole and is what the index says (BadIndex)."""
        if self._out or self._next():
            self._drain()
            if self._digest_error is not None:
                raise self._digest_error
            name = self._member.name
            raise BadIndex(f"{self._label}: member {name} holds more than the index lists")

    def check_digest(self) -> None:
        """Read what is left of the compressed bytes and check their digest (BadIndex): a
        member that does not parse is blamed on its bytes when they are not the index's."""
        self._drain()
        if self._digest_error is not None:
            raise self._digest_error

    # -- the reader's side -----------------------------------------------------------------

    def _next(self) -> bool:
        """The next piece of output into `_out`; False at the member's end (an error the
        thread found is raised here)."""
        if self._ended is not False:
            return self._end()
        item = self._queue.get()
        if isinstance(item, bytes):
            self._out = memoryview(item)
            return True
        self._ended = item
        return self._end()

    def _end(self) -> bool:
        if isinstance(self._ended, BaseException):
            raise self._ended
        return False

    def _drain(self) -> None:
        """Let the thread run to the member's end, dropping its output (bounded by the
        index's `usize`, which it never passes)."""
        self._out = memoryview(b"")
        while self._ended is False:
            item = self._queue.get()
            if not isinstance(item, bytes):
                self._ended = item

    # -- the thread's side -----------------------------------------------------------------

    def _produce(self) -> None:
        try:
            self._decompress()
            item: BaseException | None = self._verdict()
        except BaseException as exc:  # handed to the reader, who raises it
            item = exc
        if not self._stop.is_set():
            self._queue.put(item)

    def _put(self, out: bytes) -> bool:
        """Hand `out` to the reader; False once the reader has stopped."""
        if self._stop.is_set():
            return False
        self._queue.put(out)
        return True

    def _decompress(self) -> None:
        """Decompress the member, putting its output, until its end or the reader stops."""
        decoder, name = self._decoder, self._member.name
        data: bytes | memoryview = b""
        more = False  # the decoder may have output without more input
        while not self._stop.is_set():
            if data or more:
                pass
            elif self._left and not decoder.eof:
                data = self._chunk()
            else:
                return
            try:
                out, data, more = decoder.decompress(data, _OUT)
            except (ValueError, EOFError, decoder.error) as exc:
                self._fail(f"member {name} is corrupt ({exc})")
            if decoder.eof and (data or self._left or decoder.unused() or not decoder.framed):
                self._fail(f"member {name} is not one complete member")
            if out:
                self.count += len(out)
                if not decoder.framed:
                    self._crc = zlib.crc32(out, self._crc)
                if self.count > self._member.usize:
                    self._fail(
                        f"member {name} holds more than the {self._member.usize} bytes "
                        "the index says"
                    )
                if not self._put(out):
                    return

    def _fail(self, reason: str) -> None:
        """Raise BadIndex for `reason`, or for the digest when the bytes are not the index's."""
        self._read_rest()
        raise self._digest_error or BadIndex(f"{self._label}: {reason}")

    def _verdict(self) -> BadIndex | None:
        """Whether the member, read to its end, is what the index says (None) or not."""
        if self._stop.is_set():
            return None
        self._read_rest()
        if self._digest_error is not None:
            return self._digest_error
        name, decoder = self._member.name, self._decoder
        if self._digest is not None and self.count != self._member.usize:
            return BadIndex(
                f"{self._label}: member {name} holds {self.count} bytes, "
                f"the index says {self._member.usize}"
            )
        if decoder.eof != decoder.framed or self._left or decoder.unused():
            return BadIndex(f"{self._label}: member {name} is not one complete member")
        if not decoder.framed:
            if not self._tail.endswith(_FLUSHED):
                return BadIndex(f"{self._label}: member {name} does not end on a full flush")
            if self._digest is not None and self._crc != self._member.crc32:
                return BadIndex(f"{self._label}: member {name} does not match its CRC in the index")
        return None

    def _read_rest(self) -> None:
        """Read what is left of the compressed bytes; note whether they have the digest."""
        if self._digest is None:
            return
        while self._left:
            self._chunk()
        if self._digest.hexdigest() != self._member.sha256:
            self._digest_error = BadIndex(
                f"{self._label}: member {self._member.name} does not match its digest in the index"
            )

    def _chunk(self) -> bytes:
        chunk = self._file.read(min(self._left, _IN))
        if not chunk:
            raise BadIndex(
                f"{self._label}: member {self._member.name} runs past the end of the file"
            )
        self._left -= len(chunk)
        if self._digest is not None:
            self._digest.update(chunk)
        self._tail = (self._tail + chunk[-4:])[-4:]
        return chunk


class _Zlib:
    """A member of the gzip stream, raw deflate (no header, no final block): zlib's
    decompression object (or ISA-L's, zlib-ng's)."""

    framed = False  # the member ends without an end of its own (a final block is an error)

    def __init__(self) -> None:
        module = deflate_module()
        self.error: type[Exception] = module.error
        self._obj = module.decompressobj(-15)

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    def unused(self) -> bytes:
        return bytes(self._obj.unused_data)

    def decompress(self, data: bytes | memoryview, limit: int) -> tuple[bytes, bytes, bool]:
        out = self._obj.decompress(data, limit)
        tail = bytes(self._obj.unconsumed_tail)
        return out, tail, not tail and len(out) == limit and not self._obj.eof


class _Zstd:
    """A zstd frame: Python 3.14's ``compression.zstd`` (bounded output), else
    ``zstandard`` fed small pieces of input."""

    framed = True  # the member ends with its frame

    def __init__(self, label: str) -> None:
        self.error: type[Exception] = ValueError
        self._bounded = True
        try:
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]

            self._obj: Any = zstd.ZstdDecompressor()
            self.error = zstd.ZstdError
        except ImportError:
            try:
                import zstandard
            except ImportError:
                raise UnsupportedArchive(
                    f"{label}: is zstd-compressed, and the zstandard module is not available "
                    "(pip install zstandard)"
                ) from None
            self._obj = zstandard.ZstdDecompressor().decompressobj()
            self.error = zstandard.ZstdError
            self._bounded = False

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    def unused(self) -> bytes:
        return bytes(self._obj.unused_data)

    def decompress(
        self, data: bytes | memoryview, limit: int
    ) -> tuple[bytes, bytes | memoryview, bool]:
        if self._bounded:
            out = self._obj.decompress(data, limit)
            return out, b"", not self._obj.needs_input and not self._obj.eof
        if self._obj.eof:
            return b"", data, False
        view = memoryview(data)
        return self._obj.decompress(view[:_ZSTD_IN]), view[_ZSTD_IN:], False


def _decoder(compression: str, label: str) -> _Zlib | _Zstd:
    if compression == "gzip":
        return _Zlib()
    if compression == "zstd":
        return _Zstd(label)
    raise UnsupportedArchive(f"{label}: no indexed layout for {compression!r}")

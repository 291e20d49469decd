"""One member of an indexed tarball (`poncho_core.tarindex`) decompressed as it is read, and
checked against the index: the extractor reads its tar entries from `MemberReader.read`
while this reads the member's compressed bytes a chunk at a time.

What the index says is checked as the bytes come: never more output than `usize` (a bomb
stops there), and, once the entries are read (`MemberReader.finish`), exactly `usize`
bytes from exactly one gzip member or zstd frame whose compressed bytes have the index's
sha256. Everything else is `BadIndex`, naming the archive and the member.

Memory stays bounded: a chunk of compressed input and a piece of output at a time. gzip is
inflated with the fastest deflate importable (`poncho_core._inflate.deflate_module`), in the
calling thread: the extractor runs several of these at once, one per member.
"""

from __future__ import annotations

import hashlib
from typing import Any

from poncho_core._inflate import deflate_module
from poncho_core.errors import UnsupportedArchive
from poncho_core.tarindex import BadIndex, IndexedMember

__all__ = ["MemberReader"]

_IN = 1 << 20  # compressed bytes read at a time
_OUT = 1 << 20  # most output per decompression call
_ZSTD_IN = 1 << 14  # zstandard's objects take no output bound: feed them small pieces


class MemberReader:
    """The decompressed bytes of `member` of the `compression` archive at `path`; `label`
    names the archive in messages. With `digest` False the compressed bytes' sha256 is not
    checked (the index member, which has none), nor the exact size: `member.usize` is then
    only a bound. Close it (or use it as a context manager)."""

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
        self._input: bytes | memoryview = b""  # read, not yet given to the decoder
        self._more = False  # the decoder may have output without more input
        self._out = memoryview(b"")
        self.count = 0  # decompressed bytes produced

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive file."""
        self._file.close()

    def read(self, size: int) -> bytes:
        """Up to `size` decompressed bytes (b"" at the member's end)."""
        if not self._out and not self._fill():
            return b""
        data = self._out[:size]
        self._out = self._out[len(data) :]
        return bytes(data)

    def finish(self) -> None:
        """Check the member was read whole and is what the index says (BadIndex)."""
        name = self._member.name
        if self._out or self._fill():
            raise BadIndex(f"{self._label}: member {name} holds more than the index lists")
        if self._digest is not None:
            self._check_digest()
            if self.count != self._member.usize:
                raise BadIndex(
                    f"{self._label}: member {name} holds {self.count} bytes, "
                    f"the index says {self._member.usize}"
                )
        if not self._decoder.eof or self._input or self._left or self._decoder.unused():
            raise BadIndex(f"{self._label}: member {name} is not one complete member")

    def check_digest(self) -> None:
        """Read what is left of the compressed bytes and check their digest (BadIndex): a
        member that does not parse is blamed on its bytes when they are not the index's."""
        if self._digest is None:
            return
        while self._left:
            self._chunk()
        self._check_digest()

    def _check_digest(self) -> None:
        assert self._digest is not None
        if self._left or self._digest.hexdigest() != self._member.sha256:
            raise BadIndex(
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
        return chunk

    def _fill(self) -> bool:
        """Decompress the next piece of output into `_out`; False at the member's end."""
        while True:
            if self._input:
                data, self._input = self._input, b""
            elif self._more:
                data = b""
            elif self._left and not self._decoder.eof:
                data = self._chunk()
            else:
                return False
            try:
                out, self._input, self._more = self._decoder.decompress(data, _OUT)
            except (ValueError, EOFError, self._decoder.error) as exc:
                self.check_digest()
                raise BadIndex(
                    f"{self._label}: member {self._member.name} is corrupt ({exc})"
                ) from exc
            if self._decoder.eof and (self._input or self._left or self._decoder.unused()):
                self.check_digest()
                raise BadIndex(
                    f"{self._label}: member {self._member.name} is not one complete member"
                )
            if out:
                self.count += len(out)
                if self.count > self._member.usize:
                    self.check_digest()
                    raise BadIndex(
                        f"{self._label}: member {self._member.name} holds more than the "
                        f"{self._member.usize} bytes the index says"
                    )
                self._out = memoryview(out)
                return True


class _Zlib:
    """A gzip member: zlib's decompression object (or ISA-L's, zlib-ng's)."""

    def __init__(self) -> None:
        module = deflate_module()
        self.error: type[Exception] = module.error
        self._obj = module.decompressobj(31)

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

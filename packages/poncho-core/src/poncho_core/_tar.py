"""A small streaming reader of tar archives, for extraction speed.

``tarfile`` parses each header field by field in Python, and the pax header conda-pack
writes before *every* member (Python's tarfile stores float modification times there) goes
through a regular expression: about 0.2 ms per member, most of the time of unpacking an
environment of tens of thousands of files. This reader reads the same formats with one pass
over each 512-byte block: POSIX ustar (with the name prefix), pax (``x``/``X`` per member,
``g`` global: path, linkpath, size, mtime), GNU (``L``/``K`` long names, base-256 numbers)
and old V7 headers. Sparse files (GNU ``S``, pax ``GNU.sparse``) are refused; other member
types are returned as they are, for the caller to accept or refuse.

Header checksums are verified; a damaged or truncated archive raises `TarError`, also one
that ends between two members without the end-of-archive marker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

__all__ = ["Member", "TarError", "TarReader"]

BLOCK = 512
_ZERO = bytes(BLOCK)
# A pax or GNU long-name header holds a few names; more is a damaged (or hostile) archive,
# which would otherwise be read whole into memory.
_MAX_HEADER_DATA = 1 << 20
_REGULAR = (b"0", b"\0", b"7")
_NO_DATA = frozenset((b"1", b"2", b"3", b"4", b"5", b"6"))  # links, devices, folders, FIFOs


class TarError(Exception):
    """The archive is damaged, truncated or uses a feature this reader refuses."""


class Member:
    """One archive member: `name`, `type` (the header's type byte), `mode`, `mtime`,
    `size` (bytes of data) and `linkname`, with `tarfile.TarInfo`'s predicates."""

    __slots__ = ("linkname", "mode", "mtime", "name", "size", "type")

    def __init__(
        self, name: str, type: bytes, mode: int, mtime: float, size: int, linkname: str
    ) -> None:
        self.name = name
        self.type = type
        self.mode = mode
        self.mtime = mtime
        self.size = size
        self.linkname = linkname

    def __repr__(self) -> str:
        return f"Member({self.name!r}, type={self.type!r}, size={self.size})"

    def isreg(self) -> bool:
        return self.type in _REGULAR

    def isdir(self) -> bool:
        return self.type == b"5"

    def issym(self) -> bool:
        return self.type == b"2"

    def islnk(self) -> bool:
        return self.type == b"1"

    def ischr(self) -> bool:
        return self.type == b"3"

    def isblk(self) -> bool:
        return self.type == b"4"

    def isfifo(self) -> bool:
        return self.type == b"6"


class TarReader:
    """Iterate over the members of the tar stream `read` (a ``read(n)`` function); read a
    member's data with `read_data` before moving to the next member (what is left unread
    is skipped).

    With `member`, the stream is one member of an indexed tarball (`poncho_core.tarindex`):
    it ends after a whole entry, with no end-of-archive marker (its length was checked), and
    may not hold a global pax header (which would change how the next member reads)."""

    def __init__(self, read: Callable[[int], bytes], *, member: bool = False) -> None:
        self._read = read
        self._indexed = member
        self._remaining = 0
        self._padding = 0
        self._global: dict[str, bytes] = {}

    def __iter__(self) -> Iterator[Member]:
        while True:
            self._skip_rest()
            member = self._next()
            if member is None:
                return
            yield member

    def read_data(self, size: int) -> bytes:
        """Up to `size` bytes of the current member's data (b"" once it is all read)."""
        size = min(size, self._remaining)
        data = self._exactly(size)
        self._remaining -= size
        return data

    # -- reading -----------------------------------------------------------------------

    def _exactly(self, size: int) -> bytes:
        data = self._read(size)
        if len(data) == size:
            return data
        parts = [data]
        got = len(data)
        while got < size:
            more = self._read(size - got)
            if not more:
                raise TarError("unexpected end of data")
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def _skip_rest(self) -> None:
        left = self._remaining + self._padding
        while left > 0:
            chunk = self._exactly(min(left, 1 << 20))
            left -= len(chunk)
        self._remaining = self._padding = 0

    def _payload(self, size: int) -> bytes:
        data = self._exactly(size)
        self._exactly(-size % BLOCK)
        return data

    def _header_data(self, kind: bytes, size: int) -> bytes:
        if not 0 <= size <= _MAX_HEADER_DATA:
            raise TarError(f"{kind.decode('latin-1')!r} header of {size} bytes")
        return self._payload(size)

    def _next(self) -> Member | None:
        pax: dict[str, bytes] = {}
        long_name = long_link = None
        while True:
            block = self._read(BLOCK)
            if len(block) < BLOCK:
                if not block and self._indexed and not pax and long_name is long_link is None:
                    return None
                if not block:
                    # tarfile accepts this; a truncated archive would then pass unnoticed.
                    raise TarError("unexpected end of archive (no end-of-archive marker)")
                block += self._exactly(BLOCK - len(block))
            if block == _ZERO:
                return None
            _check_sum(block)
            kind = block[156:157]
            size = _number(block[124:136])
            if kind in (b"x", b"X"):
                pax.update(_pax_records(self._header_data(kind, size)))
            elif kind == b"g" and self._indexed:
                raise TarError("global pax header in a member of an indexed tarball")
            elif kind == b"g":
                self._global.update(_pax_records(self._header_data(kind, size)))
            elif kind == b"L":
                long_name = _text(self._header_data(kind, size).split(b"\0", 1)[0])
            elif kind == b"K":
                long_link = _text(self._header_data(kind, size).split(b"\0", 1)[0])
            elif kind == b"S":
                raise TarError("sparse files are not supported")
            else:
                return self._member(
                    block, kind, size, {**self._global, **pax}, long_name, long_link
                )

    def _member(
        self,
        block: bytes,
        kind: bytes,
        size: int,
        pax: dict[str, bytes],
        long_name: str | None,
        long_link: str | None,
    ) -> Member:
        name = _text(block[:100].split(b"\0", 1)[0])
        if block[257:263] == b"ustar\x00":  # POSIX: a name may be split into prefix/name
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                name = _text(prefix) + "/" + name
        linkname = _text(block[157:257].split(b"\0", 1)[0])
        mtime: float = _number(block[136:148])
        if long_name is not None:
            name = long_name
        if long_link is not None:
            linkname = long_link
        if pax:
            if any(key.startswith("GNU.sparse") for key in pax):
                raise TarError("sparse files are not supported")
            name = _text(pax["path"]) if pax.get("path") else name
            linkname = _text(pax["linkpath"]) if pax.get("linkpath") else linkname
            try:
                if pax.get("size"):
                    size = int(pax["size"])
                if pax.get("mtime"):
                    mtime = float(pax["mtime"])
            except ValueError as exc:
                raise TarError(f"invalid pax header value: {exc}") from None
            if "\0" in name or "\0" in linkname:
                raise TarError(f"NUL character in the name of {_shown(name)} (pax header)")
        if kind in (b"0", b"\0") and name.endswith("/"):
            kind = b"5"  # old tars mark folders with a trailing slash only
        if kind == b"5" and len(name) > 1:
            name = name.rstrip("/") or "/"
        if size < 0:
            raise TarError(f"negative size for {_shown(name)}")
        has_data = kind not in _NO_DATA
        self._remaining = size if has_data else 0
        self._padding = -size % BLOCK if has_data else 0
        return Member(name, kind, _number(block[100:108]), mtime, size, linkname)


def _check_sum(block: bytes) -> None:
    stored = _number(block[148:156])
    unsigned = 256 + sum(block[:148]) + sum(block[156:])
    if stored == unsigned:
        return
    signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b > 127)
    if stored != signed:
        raise TarError("bad header checksum (damaged archive?)")


def _number(field: bytes) -> int:
    """A header number: octal text, or GNU base-256 when the first byte's high bit is set."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:
            value -= 256 ** (len(field) - 1)
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError(f"invalid number {field!r} in a header") from None


def _pax_records(data: bytes) -> dict[str, bytes]:
    """``"<length> <key>=<value>\\n"`` records; an empty value unsets the key (kept as b"")."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarError("invalid pax header") from None
        end = pos + length
        if space < 0 or length <= 0 or end > len(data) or data[end - 1 : end] != b"\n":
            raise TarError("invalid pax header")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep:
            raise TarError("invalid pax header")
        records[_text(key)] = value
        pos = end
    return records


def _shown(name: str) -> str:
    return repr(name if len(name) <= 200 else f"{name[:100]}...{name[-100:]}")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")

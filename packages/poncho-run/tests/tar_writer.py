"""A tar writer for hostile archives: every header field and pax record as given.

``tarfile`` refuses or normalises much of what a damaged or hostile archive holds (a NaN
mtime, a NUL in a pax path, a base-256 number where octal fits); the tests of poncho-run's
reader need the bytes exactly. Imported by name (conftest puts this folder on sys.path).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 512


@dataclass
class Entry:
    """One member: its ustar header fields, its data and the pax records written before it
    (values as raw bytes). `fields` overrides header bytes by offset (checksum recomputed)."""

    name: str
    data: bytes = b""
    kind: bytes = b"0"
    mode: int = 0o644
    mtime: int = 1_600_000_000
    linkname: str = ""
    size: int | None = None  # the header's size; None: len(data)
    pax: dict[str, bytes] = field(default_factory=dict)
    fields: dict[int, bytes] = field(default_factory=dict)


def octal(value: int, width: int) -> bytes:
    """`value` as a NUL-terminated octal header field, base-256 if it does not fit."""
    text = b"%o" % value if value >= 0 else b""
    if value >= 0 and len(text) < width:
        return text.rjust(width - 1, b"0") + b"\0"
    return b"\x80" + (value % 256 ** (width - 1)).to_bytes(width - 1, "big")


def header(
    name: bytes,
    *,
    size: int = 0,
    kind: bytes = b"0",
    mode: int = 0o644,
    mtime: int = 1_600_000_000,
    linkname: bytes = b"",
    fields: dict[int, bytes] | None = None,
) -> bytes:
    """One 512-byte ustar header block with a correct checksum."""
    block = bytearray(BLOCK)
    block[0:100] = name[:100].ljust(100, b"\0")
    block[100:108] = octal(mode, 8)
    block[108:116] = octal(0, 8)
    block[116:124] = octal(0, 8)
    block[124:136] = octal(size, 12)
    block[136:148] = octal(mtime, 12)
    block[156:157] = kind[:1]
    block[157:257] = linkname[:100].ljust(100, b"\0")
    block[257:265] = b"ustar\x0000"
    for offset, raw in (fields or {}).items():
        block[offset : offset + len(raw)] = raw
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block[:BLOCK])


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def pax_data(records: dict[str, bytes]) -> bytes:
    """The data of a pax header: ``"<length> <key>=<value>\\n"`` records."""
    out = b""
    for key, value in records.items():
        body = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
        length = len(body) + 1
        while len(str(length).encode()) + len(body) != length:
            length = len(str(length).encode()) + len(body)
        out += str(length).encode() + body
    return out


def entry_bytes(entry: Entry) -> bytes:
    """The blocks of `entry`: its pax header (if any), its header, its padded data."""
    out = b""
    if entry.pax:
        data = pax_data(entry.pax)
        out += header(b"././@PaxHeader", size=len(data), kind=b"x") + padded(data)
    size = len(entry.data) if entry.size is None else entry.size
    out += header(
        entry.name.encode("utf-8", "surrogateescape"),
        size=size,
        kind=entry.kind,
        mode=entry.mode,
        mtime=entry.mtime,
        linkname=entry.linkname.encode("utf-8", "surrogateescape"),
        fields=entry.fields,
    )
    return out + padded(entry.data)


def tar_bytes(entries: Iterable[Entry], *, end: bool = True) -> bytes:
    """An archive of `entries`, with the end-of-archive marker unless `end` is false."""
    out = b"".join(entry_bytes(entry) for entry in entries)
    return out + bytes(2 * BLOCK) if end else out


COMPRESSORS = {
    "tar": lambda data: data,
    "gz": lambda data: gzip.compress(data, 1, mtime=0),
    "bz2": lambda data: bz2.compress(data, 1),
    "xz": lambda data: lzma.compress(data, preset=0),
}


def write(path: Path, data: bytes, compression: str = "gz") -> Path:
    """Write the tar bytes `data` to `path`, compressed (``tar``, ``gz``, ``bz2``, ``xz``)."""
    path.write_bytes(COMPRESSORS[compression](data))
    return path

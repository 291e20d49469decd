"""The footer of an indexed tarball (`poncho_core.tarindex`), alone: a few bytes at the end
of the file that name the index member, and `has_footer`, which tells an indexed tarball
from any other file by them.

Apart from `poncho_core.tarindex` so that a reader can check a file for a footer before
it imports the index's reader (dataclasses, json: ~15 ms of the worker's cold start, paid
only for an indexed tarball). The layout: docs/dev/contracts.md, "Indexed tarballs".
"""

from __future__ import annotations

import os
import struct

__all__ = [
    "GZIP_FOOTER",
    "ZSTD_FOOTER",
    "footer",
    "footer_size",
    "has_footer",
    "parse_footer",
    "sniff_indexed",
]

_MAGIC = b"PONCHOIX"
_PAYLOAD = 16 + 16 + len(_MAGIC)  # offset and size in hex, then the magic
#: The gzip footer: header with FEXTRA (subfield "PX"), an empty deflate block, CRC 0, size 0.
_GZIP_HEAD = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + struct.pack("<H", 4 + _PAYLOAD)
_GZIP_HEAD += b"PX" + struct.pack("<H", _PAYLOAD)
_GZIP_TAIL = b"\x03\x00" + b"\x00" * 8
GZIP_FOOTER = len(_GZIP_HEAD) + _PAYLOAD + len(_GZIP_TAIL)
#: The zstd footer: a skippable frame (magic 0x184D2A5E) holding the payload.
_ZSTD_HEAD = struct.pack("<II", 0x184D2A5E, _PAYLOAD)
ZSTD_FOOTER = len(_ZSTD_HEAD) + _PAYLOAD


def footer(compression: str, offset: int, size: int) -> bytes:
    """The footer naming the index member at `offset` (`size` compressed bytes)."""
    payload = b"%016x%016x" % (offset, size) + _MAGIC
    if compression == "gzip":
        return _GZIP_HEAD + payload + _GZIP_TAIL
    if compression == "zstd":
        return _ZSTD_HEAD + payload
    raise ValueError(f"no indexed layout for {compression!r}")


def parse_footer(compression: str, tail: bytes) -> tuple[int, int] | None:
    """The (offset, size) of the index member a footer names, when `tail` (the archive's
    last bytes, at least the footer's size) ends with one; else None."""
    if compression == "gzip":
        head, end, length = _GZIP_HEAD, _GZIP_TAIL, GZIP_FOOTER
    elif compression == "zstd":
        head, end, length = _ZSTD_HEAD, b"", ZSTD_FOOTER
    else:
        return None
    if len(tail) < length:
        return None
    block = tail[-length:]
    payload = block[len(head) : len(head) + _PAYLOAD]
    if not block.startswith(head) or not block.endswith(end) or not payload.endswith(_MAGIC):
        return None
    try:
        return int(payload[:16], 16), int(payload[16:32], 16)
    except ValueError:
        return None


def footer_size(compression: str) -> int:
    """The footer's length in bytes for `compression`."""
    return GZIP_FOOTER if compression == "gzip" else ZSTD_FOOTER


def sniff_indexed(head: bytes) -> str | None:
    """The compression of an indexed layout the first bytes `head` show, or None."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return None


def has_footer(path: str | os.PathLike[str]) -> bool:
    """Whether the file at `path` ends with an index footer (its index is read, and checked,
    by `poncho_core.tarindex.read_index`). OSError if it cannot be read."""
    with open(path, "rb") as handle:
        compression = sniff_indexed(handle.read(4))
        if compression is None:
            return False
        length = footer_size(compression)
        total = os.fstat(handle.fileno()).st_size
        if total < length:
            return False
        handle.seek(total - length)
        return parse_footer(compression, handle.read(length)) is not None

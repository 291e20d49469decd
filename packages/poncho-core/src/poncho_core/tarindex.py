"""The indexed tarball layout: a tar.gz or tar.zst made of independent compressed members,
with an index of them at the end, found through a fixed-size footer.

The layout (docs/dev/contracts.md, "Indexed tarballs", is the reference) is eStargz's idea,
written for environments: every member holds whole tar entries and decompresses alone, and
the file is one ordinary tar.gz (tar.zst) stream for every tar reader. gzip: one gzip stream
(Python's ``tarfile`` in stream mode, ``r|gz``, reads a single gzip member only) whose
members are runs of raw deflate blocks each ended by a full flush, so that a member
decompresses without what comes before it; zstd: one frame per member. A reader that knows
the layout can

- list the archive, or read one member (``poncho/spec.json``), without decompressing the rest;
- decompress members independently (on all cores) and check each against its digest;
- skip members whose files it already has (a node store), or copy a member's compressed bytes
  verbatim into a new archive (an incremental build).

Last in the archive: the index member (the tar entry `INDEX_NAME`, then the tar's end
marker), for gzip the end of the stream (`GZIP_END` bytes), then the footer, which
decompresses to nothing: for gzip an empty gzip member whose header's Extra field holds the
index member's offset and size (`GZIP_FOOTER` bytes), for zstd a skippable frame holding the
same (`ZSTD_FOOTER` bytes).

`read_index` finds and checks the index: a file with no footer is an ordinary tarball (None);
a footer whose index does not describe the file exactly (members end to end from the first
member's place up to the index, sizes, digests, file records naming a member) is a hostile
archive (`BadIndex`). Reading a member checks its compressed digest, its decompressed size
and, for gzip, its CRC-32.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from poncho_core.errors import UnsafeArchive, UnsupportedArchive
from poncho_core.tarfooter import (
    GZIP_END,
    GZIP_FOOTER,
    GZIP_HEADER,
    ZSTD_FOOTER,
    footer,
    footer_size,
    parse_footer,
    sniff_indexed,
)

__all__ = [
    "FILE_TYPES",
    "GZIP_FOOTER",
    "INDEX_NAME",
    "INDEX_VERSION",
    "MAX_INDEX_BYTES",
    "ZSTD_FOOTER",
    "BadIndex",
    "IndexedFile",
    "IndexedMember",
    "TarIndex",
    "footer",
    "footer_size",
    "inflate_member",
    "iter_member_chunks",
    "members_start",
    "parse_footer",
    "read_index",
    "read_member",
]

#: The index's tar entry: extracted with the environment, so an unpacked folder keeps it.
INDEX_NAME = "poncho/index.json"
#: The layout's version: a reader meeting a newer one reads the archive as a plain stream.
INDEX_VERSION = 1
#: An index larger than this (decompressed) is refused: about 4 million files.
MAX_INDEX_BYTES = 1 << 30
#: What a file record's ``type`` may be.
FILE_TYPES = frozenset({"file", "dir", "symlink", "hardlink"})

_MEMBER_KEYS = frozenset(("name", "offset", "size", "usize", "sha256", "key", "crc32"))
_FILE_KEYS = frozenset(("path", "type", "mode", "size", "sha256", "member", "prefix", "link"))
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FLUSHED = b"\x00\x00\xff\xff"  # the end of a full flush (an empty stored block)
_FINAL_BLOCK = b"\x03\x00"  # an empty final block
_CHUNK = 1 << 20


class BadIndex(UnsafeArchive):
    """The archive has a footer, but its index does not describe it (a damaged or forged
    archive: it is not read by its index, and not trusted by its stream either). The
    message names the archive and what disagrees."""

    def __init__(self, message: str) -> None:
        self.member, self.reason, self.archive = "", message, ""
        ValueError.__init__(self, message)

    def __reduce__(self) -> tuple[type[BadIndex], tuple[str]]:  # type: ignore[override]
        return (type(self), (self.reason,))


@dataclass(frozen=True)
class IndexedMember:
    """One compressed member: where it is (`offset`, `size` in the file), what it holds
    decompressed (`usize` bytes of whole tar entries), the sha256 of its compressed bytes,
    its `name` (``conda/<dist>``, ``pip/<name>-<version>``, ``poncho``, ``rest``: what it
    groups), `key`, the digest of its decompressed content and compression settings
    (equal keys: the same compressed bytes), or "" when unknown, and `crc32`, the CRC-32 of
    its decompressed bytes (gzip: the stream's trailer is made of the members'; 0 for zstd)."""

    name: str
    offset: int
    size: int
    usize: int
    sha256: str
    key: str = ""
    crc32: int = 0


@dataclass(frozen=True)
class IndexedFile:
    """One tar entry of a member: `path` (relative, no ``./``), `type` (`FILE_TYPES`),
    `mode` (permission bits), `size` and `sha256` of a regular file's data (0 and ""
    otherwise), `member` (its index in `TarIndex.members`), `prefix` (the file holds the
    build prefix, rewritten where the archive is unpacked: never shared between folders) and
    `link` (a link's target, else "")."""

    path: str
    type: str
    mode: int
    size: int
    sha256: str
    member: int
    prefix: bool = False
    link: str = ""


@dataclass(frozen=True)
class TarIndex:
    """The index of an indexed tarball: its `compression` (``gzip`` or ``zstd``), members
    in file order, files in archive order, where the index member itself is (`offset`,
    `size`) and the size of the `INDEX_NAME` file it holds (`length`, as read)."""

    compression: str
    members: tuple[IndexedMember, ...]
    files: tuple[IndexedFile, ...]
    offset: int = 0
    size: int = 0
    length: int = 0

    def to_json(self) -> bytes:
        """The index as the archive stores it (`offset` and `size` are the footer's)."""
        document = {
            "poncho_index": INDEX_VERSION,
            "compression": self.compression,
            # vars, not asdict: the records are flat, and asdict costs ~25 µs a record
            "members": [vars(m) for m in self.members],
            "files": [vars(f) for f in self.files],
        }
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    def member_files(self, member: int) -> list[IndexedFile]:
        """The file records of member number `member`, in archive order."""
        return [f for f in self.files if f.member == member]


def read_index(path: str | os.PathLike[str], *, name: str | None = None) -> TarIndex | None:
    """The index of the archive at `path`, checked against the file; None when the archive
    has no footer (an ordinary tarball) or an index of a newer layout version.

    Raises BadIndex when the footer's index is damaged or does not describe the file,
    OSError when the file cannot be read."""
    label = name or os.fspath(path)
    with open(path, "rb") as handle:
        compression = sniff_indexed(handle.read(4))
        if compression is None:
            return None
        total = os.fstat(handle.fileno()).st_size
        length = footer_size(compression)
        if total < length:
            return None
        handle.seek(total - length)
        where = parse_footer(compression, handle.read(length))
        if where is None:
            return None
        offset, size = where
        end = GZIP_END if compression == "gzip" else 0
        if offset + size + end + length != total or size <= 0:
            raise BadIndex(f"{label}: the index footer names bytes {offset}+{size} of {total}")
        if compression == "gzip":
            handle.seek(0)
            head = handle.read(len(GZIP_HEADER))
            handle.seek(offset + size)
            if head != GZIP_HEADER or handle.read(2) != _FINAL_BLOCK:
                raise BadIndex(f"{label}: an indexed gzip tarball that is not one gzip stream")
        probe = IndexedMember(INDEX_NAME, offset, size, MAX_INDEX_BYTES, "")
        raw = _inflate(compression, _read_exact(handle, offset, size, label), probe, label)
    document, length = _index_document(raw, label)
    if document.get("poncho_index") != INDEX_VERSION:
        if isinstance(document.get("poncho_index"), int) and document["poncho_index"] > 1:
            return None  # a newer layout: the stream is still an ordinary tarball
        raise BadIndex(f"{label}: the index has no layout version")
    return _checked(document, compression, (offset, size, length), label)


def read_member(
    path: str | os.PathLike[str], index: TarIndex, number: int, *, name: str | None = None
) -> bytes:
    """The decompressed bytes (whole tar entries) of member `number`, checked against the
    index (digest of the compressed bytes, decompressed size); BadIndex if they differ."""
    label = name or os.fspath(path)
    member = index.members[number]
    with open(path, "rb") as handle:
        raw = _read_exact(handle, member.offset, member.size, label)
    if hashlib.sha256(raw).hexdigest() != member.sha256:
        raise BadIndex(f"{label}: member {member.name} does not match its digest in the index")
    return inflate_member(index.compression, raw, member, label)


def inflate_member(compression: str, raw: bytes, member: IndexedMember, label: str) -> bytes:
    """`raw`, the compressed bytes of `member`, decompressed: exactly one gzip member or
    zstd frame of `member.usize` bytes, else BadIndex."""
    data = _inflate(compression, raw, member, label)
    if len(data) != member.usize:
        raise BadIndex(
            f"{label}: member {member.name} holds {len(data)} bytes, the index says {member.usize}"
        )
    if compression == "gzip" and zlib.crc32(data) != member.crc32:
        raise BadIndex(f"{label}: member {member.name} does not match its CRC in the index")
    return data


def members_start(compression: str) -> int:
    """Where the first member starts: after the stream's header for gzip, at 0 for zstd."""
    return len(GZIP_HEADER) if compression == "gzip" else 0


def iter_member_chunks(handle: IO[bytes], member: IndexedMember, label: str) -> Iterator[bytes]:
    """The compressed bytes of `member` read from `handle` in chunks, each checked to be
    there; the caller checks the digest (see `read_member`)."""
    handle.seek(member.offset)
    left = member.size
    while left:
        chunk = handle.read(min(left, _CHUNK))
        if not chunk:
            raise BadIndex(f"{label}: member {member.name} runs past the end of the file")
        left -= len(chunk)
        yield chunk


def _read_exact(handle: IO[bytes], offset: int, size: int, label: str) -> bytes:
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise BadIndex(f"{label}: the index names bytes past the end of the file")
    return data


def _inflate(compression: str, raw: bytes, member: IndexedMember, label: str) -> bytes:
    limit = member.usize
    try:
        if compression == "gzip":
            # Raw deflate ended by a full flush: all of it used, no final block inside.
            obj = zlib.decompressobj(-15)
            data = obj.decompress(raw, limit + 1)
            complete = not obj.eof and not obj.unconsumed_tail and raw.endswith(_FLUSHED)
        else:
            data, complete = _unzstd(raw, limit + 1)
    except UnsupportedArchive:  # no zstd decompressor here: not the archive's fault
        raise
    except (zlib.error, ValueError, EOFError) as exc:
        raise BadIndex(f"{label}: member {member.name} is corrupt ({exc})") from exc
    if len(data) > limit or not complete:
        raise BadIndex(f"{label}: member {member.name} is not one complete {compression} member")
    return data


def _unzstd(raw: bytes, limit: int) -> tuple[bytes, bool]:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        obj: Any = zstd.ZstdDecompressor()
        data = obj.decompress(raw, limit)
        return data, bool(obj.eof and not obj.unused_data)
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise UnsupportedArchive(
            "reading a zstd archive's index needs the zstandard module (pip install zstandard)"
        ) from None
    dobj = zstandard.ZstdDecompressor().decompressobj()
    data = dobj.decompress(raw)
    return data[:limit], bool(dobj.eof and not dobj.unused_data)


def _index_document(raw: bytes, label: str) -> tuple[dict[str, Any], int]:
    """The JSON of the index member: one tar entry named `INDEX_NAME`, then the end marker."""
    from poncho_core._tar import TarError, TarReader

    view = memoryview(raw)
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        chunk = bytes(view[position : position + size])
        position += len(chunk)
        return chunk

    try:
        reader = TarReader(read)
        entry = next(iter(reader), None)
        if entry is None or entry.name.removeprefix("./") != INDEX_NAME or not entry.isreg():
            raise BadIndex(f"{label}: the index member does not hold {INDEX_NAME}")
        data = reader.read_data(entry.size)
        if next(iter(reader), None) is not None:
            raise BadIndex(f"{label}: the index member holds more than {INDEX_NAME}")
        document = json.loads(data)
    except (TarError, ValueError, UnicodeDecodeError) as exc:
        raise BadIndex(f"{label}: the index cannot be read ({exc})") from exc
    if not isinstance(document, dict):
        raise BadIndex(f"{label}: the index is not a JSON object")
    return document, len(data)


def _checked(
    document: dict[str, Any], compression: str, where: tuple[int, int, int], label: str
) -> TarIndex:
    offset, size, length = where
    if document.get("compression") != compression:
        raise BadIndex(f"{label}: the index says {document.get('compression')!r} compression")
    try:
        members = tuple(IndexedMember(**_known(m, _MEMBER_KEYS)) for m in document["members"])
        files = tuple(IndexedFile(**_known(f, _FILE_KEYS)) for f in document["files"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadIndex(f"{label}: the index is malformed ({exc})") from exc
    position = members_start(compression)
    for member in members:
        _check_member(member, position, label)
        position += member.size
    if position != offset:
        raise BadIndex(f"{label}: the index's members end at {position}, the index is at {offset}")
    for record in files:
        _check_file(record, len(members), label)
    return TarIndex(compression, members, files, offset, size, length)


def _known(record: Any, keys: frozenset[str]) -> dict[str, Any]:
    """The fields of `record` this version knows (a later version of the same layout may
    add fields: they are ignored, as a reader of `poncho_index` 1 can do nothing with them)."""
    return {k: v for k, v in record.items() if k in keys}


def _check_member(member: IndexedMember, position: int, label: str) -> None:
    fields = (member.offset, member.size, member.usize, member.crc32)
    if not all(type(v) is int for v in fields) or not isinstance(member.name, str):
        raise BadIndex(f"{label}: the index has a malformed member {member.name!r}")
    if member.offset != position or member.size <= 0 or member.usize < 0:
        raise BadIndex(f"{label}: member {member.name} is not where the index says")
    if not isinstance(member.sha256, str) or not _SHA256.fullmatch(member.sha256):
        raise BadIndex(f"{label}: member {member.name} has no valid sha256 in the index")
    if not isinstance(member.key, str) or not 0 <= member.crc32 <= 0xFFFFFFFF:
        raise BadIndex(f"{label}: member {member.name} has a malformed key or CRC")


def _check_file(record: IndexedFile, members: int, label: str) -> None:
    ok = (
        isinstance(record.path, str)
        and record.path
        and record.type in FILE_TYPES
        and type(record.mode) is int
        and 0 <= record.mode <= 0o7777
        and type(record.size) is int
        and record.size >= 0
        and type(record.member) is int
        and 0 <= record.member < members
        and isinstance(record.prefix, bool)
        and isinstance(record.link, str)
        and isinstance(record.sha256, str)
        and (record.type != "file" or _SHA256.fullmatch(record.sha256) is not None)
    )
    if not ok:
        raise BadIndex(f"{label}: the index has a malformed record for {record.path!r}")

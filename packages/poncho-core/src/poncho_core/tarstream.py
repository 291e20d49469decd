"""Read a tar archive's members in one pass, whatever its compression, without unpacking it.

The one way Poncho reads tar archives: `poncho_core.extract` writes the members it gets
from here, and ``poncho inspect`` reads a few small ones. The stream comes from
`poncho_core.compression` (gzip, zstd, bzip2 with any number of streams, xz, or plain), the
members from `poncho_core._tar`'s streaming reader; a damaged or truncated archive, or a file
that is no tar at all, raises `UnsupportedArchive` naming the archive.

`member_entries` runs the same reader over one member of an indexed tarball
(`poncho_core.tarindex`), decompressed: whole tar entries with no end marker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from poncho_core._tar import Member, TarError, TarReader
from poncho_core.compression import Limits, is_tar, open_decompressed, sniff
from poncho_core.errors import UnsupportedArchive

if TYPE_CHECKING:
    from poncho_core.tarindex import IndexedMember

__all__ = ["Member", "TarReader", "looks_like_archive", "member_entries", "open_tar"]

_END = 1024  # the two zero blocks that end a tar stream


def looks_like_archive(path: str | os.PathLike[str]) -> bool:
    """Whether the file at `path` starts as a compressed stream or a tar header does (what
    it holds is only known once it is read: see `open_tar`)."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    return sniff(head) is not None or is_tar(head)


@contextmanager
def open_tar(
    archive: str | os.PathLike[str],
    *,
    use_programs: bool = True,
    limits: Limits | None = None,
    name: str | None = None,
) -> Iterator[TarReader]:
    """Open the tar archive `archive` (compressed or not) and yield a `TarReader` over its
    members: iterate over it, and read a member's data with ``read_data`` before the next.

    `use_programs`, `limits` and `name` are `open_decompressed`'s. A damaged archive
    raises `UnsupportedArchive` (also when it surfaces while the caller reads a member).
    """
    label = name or os.fspath(archive)
    with open_decompressed(archive, use_programs=use_programs, limits=limits, name=label) as stream:
        try:
            yield TarReader(stream.read)
        except TarError as exc:
            raise UnsupportedArchive(f"{label}: corrupt or truncated archive ({exc})") from exc


def member_entries(
    data: bytes, member: IndexedMember, label: str
) -> Iterator[tuple[Member, bytes]]:
    """The tar entries of `data`, the decompressed bytes of `member` of an indexed tarball
    (`poncho_core.tarindex.read_member`'s), in order, each with its data (a regular file's;
    b"" for the others). A member holds whole entries and no end marker: `BadIndex`
    naming `label` (the archive) and the member when `data` is not exactly that."""
    from poncho_core.tarindex import BadIndex

    view, size, position = memoryview(data), len(data), 0

    def read(wanted: int) -> bytes:
        # The member's bytes, then the two zero blocks that end a tar, which it leaves out.
        nonlocal position
        chunk = bytes(view[position : position + wanted]) if position < size else b""
        if not chunk and position < size + _END:
            chunk = bytes(min(wanted, size + _END - position))
        position += len(chunk)
        return chunk

    try:
        reader = TarReader(read)
        for entry in reader:
            yield entry, reader.read_data(entry.size) if entry.isreg() else b""
    except TarError as exc:
        raise BadIndex(f"{label}: member {member.name} holds no valid tar entries ({exc})") from exc
    if position != size + _END // 2:  # the entries end where the member does
        raise BadIndex(f"{label}: member {member.name} does not end with its last tar entry")

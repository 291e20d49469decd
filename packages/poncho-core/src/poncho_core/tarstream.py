"""Read a tar archive's members in one pass, whatever its compression, without unpacking it.

The one way Poncho reads tar archives: `poncho_core.extract` writes the members it gets
from here, and ``poncho inspect`` reads a few small ones. The stream comes from
`poncho_core.compression` (gzip, zstd, bzip2 with any number of streams, xz, or plain), the
members from `poncho_core._tar`'s streaming reader; a damaged or truncated archive, or a file
that is no tar at all, raises `UnsupportedArchive` naming the archive.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from poncho_core._tar import Member, TarError, TarReader
from poncho_core.compression import Limits, is_tar, open_decompressed, sniff
from poncho_core.errors import UnsupportedArchive

__all__ = ["Member", "TarReader", "looks_like_archive", "open_tar"]


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

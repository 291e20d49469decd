"""Writing the members of an indexed tarball: each one checked in an earlier tarball
(`poncho_create.pack_reuse`) or compressed into a temporary buffer, on a pool of threads
(hashlib, zlib and zstandard release the GIL); they are then appended in order, so the
bytes never depend on the number of threads. At most a few members wait at a time
(buffers spill to disk past `SPOOL_BYTES`); a large member's gzip blocks are compressed
on the threads too (`LARGE_MEMBER`)."""

from __future__ import annotations

import collections
import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from poncho_core.tarindex import IndexedMember, TarIndex
from poncho_core.tarindex_write import Entry, IndexedTarWriter, compress_member
from poncho_create.pack_entries import Collected
from poncho_create.pack_reuse import open_checked

__all__ = ["Member", "MemberStats", "write_members"]

SPOOL_BYTES = 8 * 2**20
#: A member larger than this (its files' bytes) has its gzip blocks compressed on the
#: `threads` threads too, so one large package does not take one core alone.
LARGE_MEMBER = 2 * 2**20


@dataclass
class Member:
    """A member to write: its name, entries, key, and where an earlier tarball has it."""

    name: str
    items: Sequence[Collected]
    key: str
    reuse: tuple[Path, IndexedMember] | None = None

    @property
    def entries(self) -> list[Entry]:
        """The tar entries, in order."""
        return [item.entry for item in self.items]

    @property
    def data_bytes(self) -> int:
        """The bytes of its regular files (for progress)."""
        return sum(item.entry.info.size for item in self.items if item.entry.info.isreg())


@dataclass(frozen=True)
class MemberStats:
    """What `write_members` did: the index written, how many members were copied and
    from which tarballs."""

    index: TarIndex
    reused: int
    sources: tuple[Path, ...]


@dataclass
class _Done:
    buffer: IO[bytes]
    size: int
    usize: int
    sha256: str
    crc32: int
    source: Path | None


def write_members(
    writer: IndexedTarWriter,
    members: Sequence[Member],
    *,
    threads: int,
    mtime: int,
    spool_dir: Path,
    progress: Callable[[int], None],
) -> MemberStats:
    """Write `members` with `writer` (copying those with a `reuse` source whose bytes check,
    compressing the others), then the index; `progress` gets the file bytes written so far."""
    window = 2 * max(1, threads) + 2
    pending: collections.deque[Future[_Done]] = collections.deque()
    sources: list[Path] = []
    reused = done = 0
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="poncho-pack")
    try:
        queue = iter(members)
        for member in members:
            while len(pending) < window:
                upcoming = next(queue, None)
                if upcoming is None:
                    break
                pending.append(pool.submit(_prepare, upcoming, writer, spool_dir, threads))
            result = pending.popleft().result()
            with result.buffer:
                writer.append(
                    member.name,
                    result.buffer,
                    result.size,
                    usize=result.usize,
                    sha256=result.sha256,
                    entries=member.entries,
                    key=member.key,
                    crc32=result.crc32,
                )
            if result.source is not None:
                reused += 1
                sources.append(result.source)
            done += member.data_bytes
            progress(done)
        index = writer.finish(mtime)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for future in pending:
            if not future.cancelled() and future.exception() is None:
                future.result().buffer.close()
    return MemberStats(index, reused, tuple(dict.fromkeys(sources)))


def _prepare(member: Member, writer: IndexedTarWriter, spool_dir: Path, threads: int) -> _Done:
    """Where to copy the member's compressed bytes from: its earlier tarball, open at the
    member once its bytes checked, else a buffer it was compressed into. Returned open:
    closed once appended (or by write_members on an error)."""
    if member.reuse is not None:
        tarball, old = member.reuse
        handle = open_checked(tarball, old)
        if handle is not None:
            return _Done(handle, old.size, old.usize, old.sha256, old.crc32, tarball)
    buffer: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=str(spool_dir))  # noqa: SIM115
    try:
        with _loaded(member.items):
            done = compress_member(
                member.entries, writer.compression, writer.level, buffer,
                threads=threads if member.data_bytes > LARGE_MEMBER else 1,
            )  # fmt: skip
        buffer.seek(0)
        return _Done(buffer, done.size, done.usize, done.sha256, done.crc32, None)
    except BaseException:
        buffer.close()
        raise


@contextlib.contextmanager
def _loaded(items: Sequence[Collected]) -> Iterator[None]:
    """The data of the entries made on demand (a rewritten .pyc), for as long as the
    member is compressed."""
    made = [item for item in items if item.load is not None]
    try:
        for item in made:
            assert item.load is not None
            item.entry.data = item.load()
        yield
    finally:
        for item in made:
            item.entry.data = None

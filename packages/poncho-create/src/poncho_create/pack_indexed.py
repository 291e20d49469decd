"""Packing a prefix as an indexed tarball (``.tar.gz``, ``.tar.zst``; the layout is
`poncho_core.tarindex`'s, docs/dev/contracts.md "Indexed tarballs").

conda-pack's ``Packer`` decides what goes in (`poncho_create.pack_entries` collects its
entries), the entries are grouped into members (`poncho_create.pack_groups`: one per conda
package, per pip distribution, ``poncho``, ``rest``), every member's key is computed from
its entries' headers and digests, members an earlier tarball holds under the same key are
copied (`poncho_create.pack_reuse`), the others compressed (`poncho_create.pack_members`),
and the index ends the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from poncho_core.tarindex_write import IndexedTarWriter, member_key
from poncho_create.digest_cache import DigestCache
from poncho_create.pack_entries import Collector
from poncho_create.pack_groups import group
from poncho_create.pack_members import Member, write_members
from poncho_create.pack_reuse import Reusable
from poncho_create.prefix_records import PrefixWatch
from poncho_create.progress import Reporter

__all__ = ["COMPRESSION", "PackStats", "write_indexed"]

log = logging.getLogger(__name__)

#: The formats written in the indexed layout, and their compression.
COMPRESSION = {"tar.gz": "gzip", "tar.zst": "zstd"}
_REPORT_EVERY = 4 * 2**20


@dataclass(frozen=True)
class PackStats:
    """How an indexed tarball was made: `members` in all, `reused` of them copied from
    the tarballs `sources`."""

    members: int
    reused: int
    sources: tuple[Path, ...]

    def message(self) -> str:
        """``packed N members: R reused from A, B, C compressed``."""
        where = f" from {', '.join(str(s) for s in self.sources)}" if self.sources else ""
        compressed = self.members - self.reused
        return (
            f"packed {self.members} members: {self.reused} reused{where}, {compressed} compressed"
        )


def write_indexed(
    handle: IO[bytes],
    prefix: str,
    files: Sequence[Any],
    fmt: str,
    *,
    level: int,
    threads: int,
    mtime: int,
    report: Reporter,
    total: int,
    digests_root: Path | None,
    reuse_from: Sequence[Path],
    spool_dir: Path,
) -> PackStats:
    """Pack conda-pack's `files` of `prefix` into `handle` in the indexed layout of `fmt`.
    `digests_root` keeps the digest cache (None: none), `reuse_from` are the tarballs whose
    members may be copied. ValueError when a file changed while it was packed."""
    from conda_pack.core import Packer

    compression = COMPRESSION[fmt]
    digests = DigestCache(digests_root, prefix)
    collector = Collector(mtime, digests)
    watch = PrefixWatch(collector, prefix)
    packer = Packer(prefix, watch)
    for file in files:
        packer.add(file)
    dropped = watch.prune(packer)
    log.debug("%d files without the prefix left out of conda-unpack's list", dropped)
    collector.volatile = True  # Packer.finish adds temporary files: read at once
    packer.finish()
    collector.mark_prefixes(target for target, _placeholder, _mode in packer.prefixes)
    pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="poncho-hash")
    try:
        collector.hash_pending(pool)
    finally:  # an interrupt does not wait for every file to be hashed
        pool.shutdown(wait=True, cancel_futures=True)
    digests.save()
    log.debug("%d file digests from the digest cache", digests.hits)

    groups = group(collector.items)
    members = [
        Member(name, items, member_key([i.entry for i in items], compression, level))
        for name, items in groups
    ]
    found = Reusable(reuse_from, compression).find([m.key for m in members])
    for member in members:
        member.reuse = found.get(member.key)

    reported = 0

    def progress(done: int) -> None:
        nonlocal reported
        if done - reported >= _REPORT_EVERY:
            report("pack", done, total, "bytes")
            reported = done

    writer = IndexedTarWriter(handle, compression, level)
    stats = write_members(
        writer, members, threads=threads, mtime=mtime, spool_dir=spool_dir, progress=progress
    )
    return PackStats(len(members), stats.reused, stats.sources)

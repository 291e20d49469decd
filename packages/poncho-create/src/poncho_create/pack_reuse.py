"""Members of earlier indexed tarballs that a new one can copy instead of compressing.

A member's key (`poncho_core.tarindex_write.member_key`) names its content and compression:
equal keys give equal compressed bytes. The candidates are the tarballs of the environment
cache in the same format, the most recently used first (at most `MAX_CANDIDATES`), after
any named explicitly; each one's index is read (footer and index member only) when a key
is still missing. A tarball whose index cannot be read is skipped; a member's bytes are
checked against their digest before they are copied, so a damaged tarball
is never copied from: the member is compressed instead (`open_checked`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from poncho_core.errors import ArchiveError
from poncho_core.tarindex import IndexedMember, iter_member_chunks, read_index

__all__ = ["MAX_CANDIDATES", "Reusable", "cached_tarballs", "open_checked"]

log = logging.getLogger(__name__)

MAX_CANDIDATES = 8


def cached_tarballs(cache_dir: Path, fmt: str, *, limit: int = MAX_CANDIDATES) -> list[Path]:
    """The tarballs of format `fmt` in the environment cache `cache_dir`, most recently
    used first, at most `limit`."""
    from poncho_create.cache import EnvCache

    try:
        entries = EnvCache(cache_dir).entries()
    except OSError:
        return []
    same = [e.path for e in reversed(entries) if e.name.endswith("." + fmt)]
    return same[:limit]


class Reusable:
    """The members of `tarballs` (read in that order, only as long as keys are missing)
    that have a key, for a tarball of `compression`."""

    def __init__(self, tarballs: Iterable[Path], compression: str) -> None:
        self._tarballs = list(dict.fromkeys(Path(t) for t in tarballs))
        self._compression = compression
        self._by_key: dict[str, tuple[Path, IndexedMember]] = {}

    def find(self, keys: Sequence[str]) -> dict[str, tuple[Path, IndexedMember]]:
        """For each of `keys` an earlier tarball holds: (that tarball, its member)."""
        wanted = set(keys)
        for tarball in self._tarballs:
            if wanted <= self._by_key.keys():
                break
            self._read(tarball)
        self._tarballs = []
        return {k: self._by_key[k] for k in keys if k in self._by_key}

    def _read(self, tarball: Path) -> None:
        try:
            index = read_index(tarball)
        except (ArchiveError, OSError) as exc:
            log.debug("%s: not reused from (%s)", tarball, exc)
            return
        if index is None or index.compression != self._compression:
            return
        for member in index.members:
            if member.key:
                self._by_key.setdefault(member.key, (tarball, member))


def open_checked(tarball: Path, member: IndexedMember) -> IO[bytes] | None:
    """`tarball` opened at `member`'s offset once its bytes were read and found to match
    the member's digest (the caller copies them from there and closes it; a tarball
    replaced meanwhile is not seen through this handle); None if they do not match (a
    damaged tarball: logged, the member is compressed instead)."""
    digest = hashlib.sha256()
    handle = None
    try:
        handle = open(tarball, "rb")  # noqa: SIM115 (returned open)
        for chunk in iter_member_chunks(handle, member, str(tarball)):
            digest.update(chunk)
        if digest.hexdigest() == member.sha256:
            handle.seek(member.offset)
            return handle
        log.warning(
            "%s: member %s does not match its digest (a damaged tarball): compressed again",
            tarball,
            member.name,
        )
    except (ArchiveError, OSError) as exc:
        log.warning("%s: member %s not reused (%s): compressed again", tarball, member.name, exc)
    if handle is not None:
        handle.close()
    return None

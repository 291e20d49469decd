"""The tar entries of an indexed tarball, collected from conda-pack's ``Packer``.

`Collector` stands where conda-pack expects an archive (``add``, ``add_bytes``): conda-pack
still decides what goes in and how (shebangs rewritten, conda-meta cleaned, the prefix
records of ``bin/conda-unpack``, the activation scripts of ``Packer.finish``), and instead of
writing a stream the collector keeps one `Entry` per path (normalised headers, see
`poncho_create.pack_normal`), with the sha256 of its data. A file's data stays on disk
until it is compressed; only what conda-pack rewrote (and the few files the grouping reads)
is kept in memory, and a ``.pyc`` whose header is rewritten is read again when compressed.

Digests come from the `DigestCache` when the file's stat is unchanged; the others are
computed by `hash_pending` (on threads: hashlib releases the GIL) or from the bytes
conda-pack already read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

from poncho_core.fs import file_sha256
from poncho_core.tarindex_write import Entry
from poncho_create.digest_cache import DigestCache
from poncho_create.pack_normal import normalised, py_source, pyc_with_mtime

__all__ = ["Collected", "Collector", "keeps_bytes"]

# Files the grouping reads (conda-meta/<dist>.json, a distribution's RECORD and METADATA).
_READ_BY_GROUPING = re.compile(r"conda-meta/[^/]+\.json|(.*/)?[^/]+\.dist-info/(RECORD|METADATA)")


def keeps_bytes(target: str) -> bool:
    """Whether the entry of `target` keeps its data in memory: the files conda-pack may
    rewrite (``bin/``, ``conda-meta/``) and those the grouping reads."""
    return target.startswith(("bin/", "conda-meta/")) or bool(_READ_BY_GROUPING.fullmatch(target))


@dataclass
class Collected:
    """One entry and, for a ``.pyc`` whose data differs from its file, how to make the data
    again when the entry is compressed (`load`)."""

    entry: Entry
    load: Callable[[], bytes] | None = None

    @property
    def target(self) -> str:
        """The entry's path in the archive."""
        return self.entry.info.name


class Collector:
    """An archive for conda-pack's ``Packer`` that collects entries (see the module's
    docstring). `volatile` marks the files added by ``Packer.finish`` (temporary files,
    removed at once: read now)."""

    def __init__(self, mtime: int, digests: DigestCache) -> None:
        self.mtime = mtime
        self.digests = digests
        self.items: dict[str, Collected] = {}
        self.volatile = False
        self._pending: list[tuple[Collected, str, os.stat_result, str]] = []
        self._tar = tarfile.TarFile(fileobj=io.BytesIO(), mode="w")

    # conda-pack's archive interface (conda_pack.formats.ArchiveBase), without an arcroot.
    def add(self, source: str, target: str) -> None:
        """Collect the file, folder or link at `source` as `target`."""
        info, st = self._info(source, target)
        if not info.isreg():
            self._keep(Entry(info))
        elif self.volatile or keeps_bytes(target):
            with open(source, "rb") as handle:
                self._with_bytes(source, handle.read(), info, st)
        elif target.endswith(".pyc"):
            variant = self._pyc_variant(source)
            item = self._keep(Entry(info), self._pyc_loader(source))
            self._digest(item, source, st, variant)
        else:
            self._digest(self._keep(Entry(info, source=source)), source, st, "")

    def add_bytes(self, source: str, sourcebytes: bytes, target: str) -> None:
        """Collect `sourcebytes` (conda-pack read, and maybe rewrote, the file `source`)."""
        info, st = self._info(source, target)
        self._with_bytes(source, sourcebytes, info, st)

    def mark_prefixes(self, targets: Iterable[str]) -> None:
        """Flag the entries of `targets` as holding the build prefix."""
        for target in targets:
            item = self.items.get(target)
            if item is not None:
                item.entry.prefix = True

    def hash_pending(self, pool: Executor) -> None:
        """Compute the digests the cache did not have, on `pool`, and record them."""

        def run(job: tuple[Collected, str, os.stat_result, str]) -> None:
            item, source, st, variant = job
            if item.load is not None:
                sha = hashlib.sha256(item.load()).hexdigest()
            else:
                sha = file_sha256(source)
            item.entry.sha256 = sha
            self.digests.record(source, st, sha, variant)

        for _ in pool.map(run, self._pending):
            pass
        self._pending.clear()

    def _info(self, source: str, target: str) -> tuple[tarfile.TarInfo, os.stat_result]:
        st = os.lstat(source)
        info = self._tar.gettarinfo(source, target)
        if info.islnk():
            # Never a hard link: a member must not depend on another one (it may be reused
            # alone, or come before the file it would link to).
            info.type, info.linkname, info.size = tarfile.REGTYPE, "", st.st_size
        return normalised(info, self.mtime), st

    def _with_bytes(
        self, source: str, data: bytes, info: tarfile.TarInfo, st: os.stat_result
    ) -> None:
        target = info.name
        if target.endswith(".pyc") and not self.volatile:
            data = pyc_with_mtime(source, data, self.mtime)
            info.size = len(data)
            entry = Entry(info, sha256=hashlib.sha256(data).hexdigest())
            self._keep(entry, self._pyc_loader(source))
            return
        info.size = len(data)
        if self.volatile or keeps_bytes(target):
            self._keep(Entry(info, data=data, sha256=hashlib.sha256(data).hexdigest()))
            return
        # The file's own bytes (conda-pack rewrites only bin/ and conda-meta/): read again
        # when compressed, checked against this digest.
        sha = self.digests.lookup(source, st) if st.st_size == len(data) else None
        if sha is None:
            sha = hashlib.sha256(data).hexdigest()
            self.digests.record(source, st, sha)
        self._keep(Entry(info, source=source, sha256=sha))

    def _keep(self, entry: Entry, load: Callable[[], bytes] | None = None) -> Collected:
        item = Collected(entry, load)
        self.items[entry.info.name] = item
        return item

    def _digest(self, item: Collected, source: str, st: os.stat_result, variant: str) -> None:
        sha = self.digests.lookup(source, st, variant)
        if sha is None:
            self._pending.append((item, source, st, variant))
        else:
            item.entry.sha256 = sha

    def _pyc_variant(self, source: str) -> str:
        """What the rewritten header of the .pyc depends on besides its bytes."""
        try:
            st = py_source(source).stat()
        except OSError:
            return f"pyc:{self.mtime}:-"
        return f"pyc:{self.mtime}:{int(st.st_mtime)}:{st.st_size}"

    def _pyc_loader(self, source: str) -> Callable[[], bytes]:
        mtime = self.mtime

        def load() -> bytes:
            with open(source, "rb") as handle:
                return pyc_with_mtime(source, handle.read(), mtime)

        return load

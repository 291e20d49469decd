"""Extraction of an indexed tarball (`poncho_core.tarindex`) by its index: members in
parallel, and members whose files a `Provider` already has not decompressed at all.

The same extractor as `poncho_core.extract`, read in another order: the checks of every
entry are `poncho_core._checks`' (paths, links, kinds, modes) and the writes
`poncho_core._writers`'. The index is checked before anything is read but it:

1. the records, in archive order, go through the path rules; folders are made then (no link
   exists yet), the symbolic links' targets are checked, and a path listed twice (folders
   excepted) or both as a folder and as something else is refused: members are written in
   any order, so the index must make order irrelevant;
2. members are decompressed and written by `workers` threads (zlib, sha256 and writes
   release the GIL); each member's tar entries must be its records, in order (path, type,
   mode, size, link target, and the sha256 of the data, computed while it is written), and
   the member must be exactly its index entry (`poncho_core._members`); any disagreement is
   `BadIndex` naming the archive and the path or member;
3. hard links, then symbolic links, of every member are made last (a hard link may name a
   file of another member), as `extract` makes symbolic links last.

Nothing is written outside `dest`; what was written inside it before a refusal is left for
the caller, who extracts into a folder of its own and removes it on error.
"""

# ruff: noqa: PTH116, PTH118

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from poncho_core._checks import Action, PathRules, check_mtime, kind_of, refuse_kind
from poncho_core._members import MemberReader
from poncho_core._tar import Member, TarError, TarReader
from poncho_core._threads import cores, each
from poncho_core._writers import File, Writers, hardlink, make_folder, symlinks, write, write_error
from poncho_core.compression import Limits, check_budget
from poncho_core.errors import UnsafeArchive, shown
from poncho_core.tarindex import INDEX_NAME, BadIndex, IndexedFile, IndexedMember, TarIndex

__all__ = ["MAX_WORKERS", "Provider", "extract_indexed"]

#: The most threads `extract_indexed` starts by default (one per core up to this).
MAX_WORKERS = 8
_CHUNK = 1 << 20
# Files up to this size are read whole, checked, and written by the writer threads (as in
# `extract`), in batches; at most this many writer threads.
_SMALL = 1 << 20
_BATCH_FILES = 64
_BATCH_BYTES = 1 << 20
_WRITERS = 4


class Provider(Protocol):
    """Where files come from without decompressing them (a node store of files by sha256)."""

    def has(self, sha256: str) -> bool:
        """Whether the provider can place a file with this digest."""

    def place(self, sha256: str, path: str, mode: int) -> bool:
        """Create the file with this digest at `path` (absolute; its folder exists, it does
        not), as a hard link or a copy; False if it could not (the extractor then
        decompresses the member)."""

    def keep(self, sha256: str, path: str, mode: int) -> None:
        """A regular file the extractor just wrote at `path` with this digest (never
        called for a file holding the build prefix)."""


def extract_indexed(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    index: TarIndex,
    *,
    provider: Provider | None = None,
    workers: int | None = None,
    limits: Limits | None = None,
    name: str | None = None,
) -> int:
    """Extract the indexed tarball `archive`, whose index `read_index` returned, into the
    existing folder `dest`; returns the number of entries created.

    `workers` threads decompress members (default: one per core, at most `MAX_WORKERS`;
    1 = in this thread). With a `provider`, a member whose files it all has (none holding
    the build prefix) is not decompressed: its files are placed by the provider, and the
    files written from other members are handed to `provider.keep`. `limits` and `name` are
    `extract`'s. Raises what `extract` raises: `UnsafeArchive` (`BadIndex` when the index
    and the members disagree), `UnsupportedArchive`, `LimitExceeded`, `UnpackError`.
    """
    label = name or os.fspath(archive)
    job = _Job(os.fspath(archive), os.fspath(dest), index, label, provider)
    if workers is None:
        workers = min(cores(), MAX_WORKERS)
    try:
        if limits is not None:
            job.check_limits(limits)
        job.plan()
        job.run(max(1, min(workers, len(index.members))))
        job.finish()
    except BadIndex:
        raise
    except UnsafeArchive as exc:
        if exc.archive:
            raise
        raise UnsafeArchive(exc.member, exc.reason, label) from None
    return job.count


class _Job:
    """One extraction: the plan the index gives, then the members' work."""

    def __init__(
        self, archive: str, root: str, index: TarIndex, label: str, provider: Provider | None
    ) -> None:
        self.archive = archive
        self.root = root
        self.index = index
        self.label = label
        self.provider = provider
        self.rules = PathRules()
        self.work: list[list[tuple[IndexedFile, Action]]] = [[] for _ in index.members]
        self.hardlinks: list[tuple[str, str, str]] = []
        self.count = 0
        self.failed = False
        self.writers: Writers
        self.kept: list[tuple[str, str, int]] = []  # files written, for provider.keep

    def check_limits(self, limits: Limits) -> None:
        """Refuse an index whose members or files unpack past `limits`, before any write."""
        budget = limits.budget(self.label, os.stat(self.archive).st_size)
        total = sum(m.usize for m in self.index.members)
        check_budget(self.label, budget, total, "decompressed (by its index)")
        files = sum(f.size for f in self.index.files)
        check_budget(self.label, budget, files, "total unpacked (by its index)")

    # -- 1. the plan -----------------------------------------------------------------------

    def plan(self) -> None:
        """Check every record in archive order and make the folders."""
        owner: dict[str, str] = {}  # the path of every entry but folders
        member = 0
        for record in self.index.files:
            if record.member < member:  # the rules see the entries in the stream's order
                raise BadIndex(f"{self.label}: the index's records are not in archive order")
            member = record.member
            action = self._planned(record.path, record.type, record.link, owner)
            self.work[record.member].append((record, action))
            if action.what == "hardlink":
                self.hardlinks.append((action.rel, action.target, record.path))
        self.rules.check_link_targets()
        self._index_entry(owner)

    def _planned(self, path: str, kind: str, link: str, owner: dict[str, str]) -> Action:
        action = self.rules.entry(path, kind, link)
        folder = action.folder
        while folder:
            if folder in owner:
                raise UnsafeArchive(path, f"goes through {owner[folder]!r}, not a folder")
            folder = folder.rpartition("/")[0]
        if action.folder:
            try:
                make_folder(os.path.join(self.root, action.folder))
            except OSError as exc:
                raise write_error(path, exc) from exc
        if action.what != "dir":
            if action.rel in owner:
                raise BadIndex(f"{self.label}: {shown(path)} is listed twice in the index")
            if action.rel in self.rules.dirs:
                raise UnsafeArchive(path, "replaces a folder")
            owner[action.rel] = path
        self.count += 1
        return action

    def _index_entry(self, owner: dict[str, str]) -> None:
        """Write the index's own entry, last in the archive: the index member must hold
        exactly the index read (one entry, then the end of the archive)."""
        expected = self.index.to_json()
        action = self._planned(INDEX_NAME, "file", "", owner)
        bound = len(expected) + (64 << 10)
        member = IndexedMember(INDEX_NAME, self.index.offset, self.index.size, bound, "")
        with MemberReader(
            self.archive, self.index.compression, member, self.label, digest=False
        ) as stream:
            try:
                reader = TarReader(stream.read, member=True)
                entries = iter(reader)
                entry = next(entries, None)
                if entry is None or entry.name.removeprefix("./") != INDEX_NAME:
                    raise BadIndex(f"{self.label}: the index member does not hold {INDEX_NAME}")
                data = reader.read_data(entry.size) if entry.isreg() else b""
                if data != expected or next(entries, None) is not None:
                    raise BadIndex(f"{self.label}: the index member changed after it was read")
                check_mtime(entry)
            except TarError as exc:
                raise BadIndex(f"{self.label}: the index member cannot be read ({exc})") from exc
        path = os.path.join(self.root, action.rel)
        write(path, (data,), (entry.mode & 0o755) | 0o600, int(entry.mtime * 1e9), INDEX_NAME)

    # -- 2. the members --------------------------------------------------------------------

    def run(self, workers: int) -> None:
        """Extract every member, `workers` at a time (the largest first); small files are
        written by a few writer threads meanwhile (`Writers`, as `extract` does)."""
        order = list(range(len(self.index.members)))
        if workers > 1:
            order.sort(key=lambda n: -self.index.members[n].usize)
        todo = iter(order)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def work() -> None:
            while not self.failed:
                with lock:
                    number = next(todo, None)
                if number is None:
                    return
                try:
                    self._member(number)
                except BaseException as exc:  # the first error is raised, the others stop
                    errors.append(exc)
                    self.failed = True

        self.writers = Writers(min(cores(), _WRITERS))
        try:
            if workers == 1:
                work()
            else:
                threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
                try:
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                except BaseException:  # a signal: stop the members, then let it through
                    self.failed = True
                    raise
                finally:
                    for thread in threads:
                        if thread.ident is not None:
                            thread.join()  # none left writing into a folder the caller removes
            if not errors:
                self.writers.wait()
        finally:
            self.writers.stop()
        if errors:
            raise errors[0]
        if self.provider is not None:
            each(self.provider.keep, self.kept, workers)

    def _member(self, number: int) -> None:
        work = self.work[number]
        if self._spared(work) and self._place(work):
            return
        member = self.index.members[number]
        batch = _Batch()
        with MemberReader(self.archive, self.index.compression, member, self.label) as stream:
            try:
                reader = TarReader(stream.read, member=True)
                entries = iter(reader)
                for record, action in work:
                    if self.failed:
                        return
                    entry = next(entries, None)
                    if entry is None:
                        raise BadIndex(
                            f"{self.label}: {shown(record.path)} is in the index, "
                            f"not in member {member.name}"
                        )
                    self._compare(entry, record, member)
                    if action.what == "file":
                        self._write(reader, entry, record, action, batch)
                extra = next(entries, None)
                if extra is not None:
                    raise BadIndex(
                        f"{self.label}: member {member.name} holds {shown(extra.name)}, "
                        "which the index does not list"
                    )
            except TarError as exc:
                stream.check_digest()
                raise BadIndex(f"{self.label}: member {member.name}: {exc}") from exc
            stream.finish()
        if batch.files:
            self.writers.put(batch.files)

    def _spared(self, work: list[tuple[IndexedFile, Action]]) -> bool:
        """Whether the provider has every file of a member (none holding the build prefix):
        asked by the member's thread, so that the provider's checks (a store verifies the
        digest of each of its files once) run on every worker."""
        provider = self.provider
        if provider is None or any(record.prefix for record, _ in work):
            return False
        return all(provider.has(r.sha256) for r, _ in work if r.type == "file")

    def _place(self, work: list[tuple[IndexedFile, Action]]) -> bool:
        assert self.provider is not None
        for record, action in work:
            if action.what == "file":
                path = os.path.join(self.root, action.rel)
                if not self.provider.place(record.sha256, path, (record.mode & 0o755) | 0o600):
                    return False
        return True

    def _compare(self, entry: Member, record: IndexedFile, member: IndexedMember) -> None:
        if entry.name.removeprefix("./") != record.path:
            raise BadIndex(
                f"{self.label}: member {member.name} holds {shown(entry.name)} where the "
                f"index says {shown(record.path)}"
            )
        kind = kind_of(entry)
        refuse_kind(entry.name, kind)
        differs = (
            "type"
            if kind != record.type
            else "mode"
            if entry.mode & 0o7777 != record.mode
            else "size"
            if kind == "file" and entry.size != record.size
            else "link target"
            if kind in ("symlink", "hardlink") and entry.linkname != record.link
            else ""
        )
        if differs:
            raise BadIndex(
                f"{self.label}: {shown(record.path)} in member {member.name} is not what "
                f"the index says (its {differs})"
            )

    def _write(
        self,
        reader: TarReader,
        entry: Member,
        record: IndexedFile,
        action: Action,
        batch: _Batch,
    ) -> None:
        """Write a file (a small one: hand it to the writers in `batch`), its data checked
        against the record's sha256."""
        check_mtime(entry)
        path = os.path.join(self.root, action.rel)
        mode = (entry.mode & 0o755) | 0o600
        mtime_ns = int(entry.mtime * 1e9)
        digest = hashlib.sha256()
        if entry.size <= _SMALL:
            data = reader.read_data(entry.size)
            digest.update(data)
            batch.files.append((path, data, mode, mtime_ns, entry.name))
            batch.size += len(data)
            if len(batch.files) >= _BATCH_FILES or batch.size >= _BATCH_BYTES:
                self.writers.put(batch.files)
                batch.files, batch.size = [], 0
        else:
            write(path, _hashed(reader, entry.size, digest), mode, mtime_ns, entry.name)
        if digest.hexdigest() != record.sha256:
            raise BadIndex(
                f"{self.label}: {shown(record.path)} does not match its sha256 in the index"
            )
        if self.provider is not None and not record.prefix:
            self.kept.append((record.sha256, path, mode))

    # -- 3. the links ----------------------------------------------------------------------

    def finish(self) -> None:
        """Make the hard links, then the symbolic links (their targets were checked)."""
        for rel, target, path in self.hardlinks:
            hardlink(self.root, rel, target, path)
        symlinks(self.root, self.rules.links)


class _Batch:
    """Small files read by one member's thread, not yet handed to the writers."""

    __slots__ = ("files", "size")

    def __init__(self) -> None:
        self.files: list[File] = []
        self.size = 0


def _hashed(reader: TarReader, size: int, digest: Any) -> Iterator[bytes]:
    """The current entry's `size` bytes of data, a chunk at a time, added to `digest`."""
    while size > 0:
        chunk = reader.read_data(min(size, _CHUNK))
        if not chunk:
            return
        size -= len(chunk)
        digest.update(chunk)
        yield chunk

"""The one safe tar extractor of Poncho: environments (poncho-run) and data (poncho-fetch).

Archives are read with `poncho_core.tarstream` (``tarfile`` is several times slower here),
from the stream `poncho_core.compression` decompresses. Python 3.12 added tar extraction filters
(``filter="data"``) but 3.10 lacks them, and they cost a ``realpath`` per member; the checks
here are the same on every version:

- a member named with an absolute path, a ``..`` component (``\\`` counts as ``/`` there),
  more than 256 components or more than 4,000 bytes is refused;
- a member whose path goes through a symbolic link of the archive is refused;
- a hard link must name a member inside the folder (no absolute path, no ``..``);
- a symbolic link must not point outside the folder, following the archive's other links
  as they will be on disk (they are created last, once every file is in place, so a link
  cannot be used to redirect a later member);
- device files and FIFOs are refused;
- regular files lose setuid/setgid/sticky and group/other write bits and keep the owner's
  read/write, as the ``data`` filter does; modification times are kept (``.pyc`` files
  are checked against them), and one no file system can hold is a damaged archive;
- `Limits` bound the decompressed stream and the sum of the members' sizes (a sparse or
  highly compressed member is small in the archive, big on disk).

The rules are `poncho_core._checks`' (shared with `poncho_core.extract_indexed`, which
reads an indexed tarball by its index, members in parallel); this module reads the stream
and `poncho_core._writers` writes the files (the small ones by a few threads while the
reader keeps decoding). A refusal raises `UnsafeArchive` naming the
member. Nothing is written outside `dest`; what was written inside it before the refusal is
left for the caller, who extracts into a folder of its own and removes it on error.
"""

# Paths are str here: str paths and os calls in the per-member loop: Path objects cost ~10% of
# extraction time.
# ruff: noqa: PTH116, PTH118

from __future__ import annotations

import os
from collections.abc import Iterator

from poncho_core._checks import (
    MAX_NAME_BYTES,
    MAX_PATH_DEPTH,
    PathRules,
    check_mtime,
    kind_of,
)
from poncho_core._threads import cores
from poncho_core._writers import File, Writers, hardlink, make_folder, symlinks, write, write_error
from poncho_core.compression import Limits, check_budget
from poncho_core.errors import UnsafeArchive, shown
from poncho_core.tarstream import Member, TarReader, open_tar

__all__ = ["MAX_NAME_BYTES", "MAX_PATH_DEPTH", "extract"]

_CHUNK = 1 << 20
# Files up to this size are read into memory and written by a few threads (creating files
# is system calls, which run without the GIL): the reader keeps decoding meanwhile. They are
# handed over in batches: one queue item per file costs more than writing a small file.
_SMALL = 1 << 20
_BATCH_FILES = 64
_BATCH_BYTES = 1 << 20


def extract(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    use_programs: bool = True,
    limits: Limits | None = None,
    name: str | None = None,
) -> int:
    """Extract the tar archive `archive` (compressed or not) into the existing folder `dest`.

    Returns the number of members extracted. `limits` bound the decompressed bytes and the
    sum of the members' sizes (`LimitExceeded` before the file that would cross it is
    written). `name` stands for `archive` in messages. Raises `UnsafeArchive`,
    `UnsupportedArchive` (not a tar, corrupt, or no zstd decompressor), `LimitExceeded` or
    `UnpackError` (the file system refused a write).
    """
    label = name or os.fspath(archive)
    root = os.fspath(dest)
    extractor = _Extractor(root, label, _workers())
    total = 0
    try:
        with open_tar(archive, use_programs=use_programs, limits=limits, name=label) as reader:
            budget = limits.budget(label, os.stat(archive).st_size) if limits else []
            for member in reader:
                if member.isreg() and budget:
                    total += member.size
                    check_budget(
                        label, budget, total, f"member {shown(member.name)}: total unpacked"
                    )
                extractor.add(reader, member)
        extractor.finish()
    except UnsafeArchive as exc:
        if exc.archive:
            raise
        raise UnsafeArchive(exc.member, exc.reason, label) from None
    finally:
        extractor.close()  # no write left running into a folder the caller may remove
    return extractor.count


def _workers() -> int:
    return min(4, cores())


def _chunks(reader: TarReader, size: int) -> Iterator[bytes]:
    """The current member's `size` bytes of data, read a chunk at a time."""
    while size > 0:
        chunk = reader.read_data(min(size, _CHUNK))
        size -= len(chunk)
        yield chunk


class _Extractor:
    """Extraction state: the path rules (`PathRules`: folders made, symbolic links still
    to create) and the writer threads."""

    def __init__(self, root: str, label: str, workers: int = 1) -> None:
        self.root = root
        self.label = label
        self.count = 0
        self.rules = PathRules()
        self.writers = Writers(workers) if workers > 1 else None
        self.batch: list[File] = []
        self.batch_bytes = 0
        self.pending: set[str] = set()  # handed to the writers, maybe not written yet

    def close(self) -> None:
        """Stop the writers once the writes running are done (errors are dropped: the
        caller is failing)."""
        if self.writers is not None:
            self.writers.stop()

    def _wait(self, rel: str) -> None:
        """Wait for the write of `rel` if one is pending (and raise a writer's error).

        All pending writes are waited for: this happens when a member replaces an earlier
        one or a hard link names a file, which real environments seldom have."""
        if rel in self.pending:
            self._drain()

    def _drain(self, keep: int = 0) -> None:
        """Wait until at most `keep` writes are pending (waits for all: the writers report
        batches, not files)."""
        if self.writers is not None:
            self._send()
            self.writers.wait()
            self.pending.clear()

    def _send(self) -> None:
        assert self.writers is not None
        if self.batch:
            self.writers.put(self.batch)
            self.batch = []
            self.batch_bytes = 0

    def add(self, reader: TarReader, member: Member) -> None:
        action = self.rules.entry(member.name, kind_of(member), member.linkname)
        if action.folder:
            self._wait(action.folder)  # a file of that name being written: makedirs refuses
            try:
                make_folder(os.path.join(self.root, action.folder))
            except OSError as exc:
                raise write_error(member.name, exc) from exc
        if action.what == "file":
            self._file(reader, member, action.rel)
        elif action.what == "hardlink":
            self._wait(action.target)
            self._wait(action.rel)
            hardlink(self.root, action.rel, action.target, member.name)
        self.count += 1

    def finish(self) -> None:
        """Create the symbolic links, after checking each one ends inside the root."""
        self._drain()
        self.rules.check_link_targets()
        symlinks(self.root, self.rules.links)

    def _file(self, reader: TarReader, member: Member, rel: str) -> None:
        check_mtime(member)
        path = os.path.join(self.root, rel)
        mode = (member.mode & 0o755) | 0o600
        self._wait(rel)  # an earlier member of the same name
        mtime_ns = int(member.mtime * 1e9)
        if self.writers is not None and member.size <= _SMALL:
            data = reader.read_data(member.size)
            self.batch.append((path, data, mode, mtime_ns, member.name))
            self.batch_bytes += len(data)
            self.pending.add(rel)
            if len(self.batch) >= _BATCH_FILES or self.batch_bytes >= _BATCH_BYTES:
                self._send()
            return
        write(path, _chunks(reader, member.size), mode, mtime_ns, member.name)

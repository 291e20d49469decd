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

This module reads and checks; `poncho_core._writers` writes the files (the small ones by a
few threads while the reader keeps decoding). A refusal raises `UnsafeArchive` naming the
member. Nothing is written outside `dest`; what was written inside it before the refusal is
left for the caller, who extracts into a folder of its own and removes it on error.
"""

# Paths are str here: str paths and os calls in the per-member loop: Path objects cost ~10% of
# extraction time.
# ruff: noqa: PTH103, PTH113, PTH114, PTH116, PTH118, PTH211

from __future__ import annotations

import os
from collections.abc import Iterator

from poncho_core._tar import TarError
from poncho_core._writers import File, Writers, clear, write, write_error
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
_MAX_LINK_HOPS = 40

#: Deeper paths are refused: folders are made (and later removed) by recursive functions,
#: and a real environment's deepest path has a few dozen components.
MAX_PATH_DEPTH = 256
#: Longer member names are refused: PATH_MAX is 4096, and the member lands under a folder.
MAX_NAME_BYTES = 4000
# Modification times os.utime can set in int64 nanoseconds (years 1677 to 2262).
_MAX_MTIME = 9.2e9


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
    return min(4, os.cpu_count() or 1)


def _chunks(reader: TarReader, size: int) -> Iterator[bytes]:
    """The current member's `size` bytes of data, read a chunk at a time."""
    while size > 0:
        chunk = reader.read_data(min(size, _CHUNK))
        size -= len(chunk)
        yield chunk


def _relative(name: str, member: str) -> str:
    """`name` as a normalised path relative to the root ("" for the root itself)."""
    if name.startswith("/"):
        raise UnsafeArchive(member, "absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts or ("\\" in name and ".." in name.replace("\\", "/").split("/")):
        raise UnsafeArchive(member, "path with '..'")
    if len(parts) > MAX_PATH_DEPTH:
        raise UnsafeArchive(member, f"path more than {MAX_PATH_DEPTH} folders deep")
    if len(name) > MAX_NAME_BYTES // 4 and len(name.encode("utf-8", "surrogateescape")) > (
        MAX_NAME_BYTES
    ):
        raise UnsafeArchive(member, f"path longer than {MAX_NAME_BYTES} bytes")
    return "/".join(parts)


class _Extractor:
    """Extraction state: the folders made and the symbolic links still to create."""

    def __init__(self, root: str, label: str, workers: int = 1) -> None:
        self.root = root
        self.label = label
        self.count = 0
        self.dirs: set[str] = {""}
        self.links: dict[str, str] = {}
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
        rel = _relative(member.name, member.name)
        if rel:
            self._check_no_link_in(rel, member.name)
        if member.isdir():
            if rel:
                self._make_dirs(rel, member.name)
        elif not rel:
            raise UnsafeArchive(member.name, "replaces the target folder itself")
        elif member.isreg():
            self._file(reader, member, rel)
        elif member.issym():
            self._symlink(member, rel)
        elif member.islnk():
            self._hardlink(member, rel)
        elif member.ischr() or member.isblk():
            raise UnsafeArchive(member.name, "device file")
        elif member.isfifo():
            raise UnsafeArchive(member.name, "FIFO (named pipe)")
        else:
            raise UnsafeArchive(member.name, f"unsupported member type {member.type!r}")
        self.count += 1

    def finish(self) -> None:
        """Create the symbolic links, after checking each one ends inside the root."""
        self._drain()
        for rel, target in self.links.items():
            self._check_link_target(rel, target)
        for rel, target in self.links.items():
            path = os.path.join(self.root, rel)
            self._make_parent(rel, rel)
            clear(path, rel)
            try:
                os.symlink(target, path)
            except OSError as exc:
                raise write_error(rel, exc) from exc

    # -- members -------------------------------------------------------------------------

    def _file(self, reader: TarReader, member: Member, rel: str) -> None:
        if not -_MAX_MTIME < member.mtime < _MAX_MTIME:  # NaN too: os.utime cannot set it
            raise TarError(
                f"modification time of {shown(member.name)} out of range ({member.mtime:.6g})"
            )
        self.links.pop(rel, None)
        self._make_parent(rel, member.name)
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

    def _symlink(self, member: Member, rel: str) -> None:
        target = member.linkname
        if target.startswith("/"):
            raise UnsafeArchive(member.name, f"symbolic link to an absolute path ({target})")
        if not target:
            raise UnsafeArchive(member.name, "symbolic link with an empty target")
        if rel in self.dirs:
            raise UnsafeArchive(member.name, "symbolic link replaces a folder")
        self._make_parent(rel, member.name)
        self.links[rel] = target

    def _hardlink(self, member: Member, rel: str) -> None:
        target_rel = _relative(member.linkname, member.name)
        if not target_rel:
            raise UnsafeArchive(member.name, "hard link to the target folder itself")
        self._check_no_link_in(target_rel, member.name)
        if target_rel in self.links:
            # A hard link to a symbolic link is a second symbolic link with the same target.
            self._make_parent(rel, member.name)
            self.links[rel] = self.links[target_rel]
            return
        self.links.pop(rel, None)
        self._make_parent(rel, member.name)
        self._wait(target_rel)
        self._wait(rel)
        source = os.path.join(self.root, target_rel)
        path = os.path.join(self.root, rel)
        try:
            if not os.path.isfile(source) or os.path.islink(source):
                raise UnsafeArchive(
                    member.name, f"hard link to {member.linkname!r}, not a file of the archive"
                )
            if os.path.lexists(path):
                clear(path, member.name)
            os.link(source, path, follow_symlinks=False)
        except OSError as exc:
            raise write_error(member.name, exc) from exc

    # -- checks and helpers --------------------------------------------------------------

    def _check_no_link_in(self, rel: str, member: str) -> None:
        if not self.links:
            return
        end = rel.find("/")
        while end != -1:
            if rel[:end] in self.links:
                raise UnsafeArchive(member, f"path goes through the symbolic link {rel[:end]!r}")
            end = rel.find("/", end + 1)

    def _check_link_target(self, rel: str, target: str) -> None:
        """Follow `target` from `rel`'s folder through the archive's links; refuse escapes."""
        stack = rel.split("/")[:-1]
        todo = list(reversed(target.split("/")))
        hops = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not stack:
                    raise UnsafeArchive(rel, f"symbolic link points outside the folder ({target})")
                stack.pop()
                continue
            stack.append(part)
            key = "/".join(stack)
            if key in self.links:
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    return  # a loop of links stays inside; it resolves to nothing
                stack.pop()
                todo.extend(reversed(self.links[key].split("/")))

    def _make_parent(self, rel: str, member: str) -> None:
        parent = rel.rpartition("/")[0]
        if parent not in self.dirs:
            self._make_dirs(parent, member)

    def _make_dirs(self, rel: str, member: str) -> None:
        if rel in self.dirs:
            return
        self._wait(rel)  # a file of that name being written: makedirs then refuses it
        if rel in self.links:
            raise UnsafeArchive(member, f"folder {rel!r} is a symbolic link of the archive")
        try:
            os.makedirs(os.path.join(self.root, rel), exist_ok=True)
        except OSError as exc:
            raise write_error(member, exc) from exc
        # Only real folders reach here (makedirs refuses a file, and links are not made
        # yet); record the folder and its ancestors.
        while rel and rel not in self.dirs:
            self.dirs.add(rel)
            rel = rel.rpartition("/")[0]

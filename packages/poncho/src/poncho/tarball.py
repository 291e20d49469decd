"""What ``poncho inspect`` reads of a tarball: by its index when it has one, else by streaming.

An indexed tarball (docs/dev/contracts.md, "Indexed tarballs") answers from its end: the
footer and the index give every file's path, size and member, and only the member(s)
holding ``poncho/spec.json`` and ``poncho/lock.json`` are read (with no lock, also those
holding ``conda-meta/*.json``, which then say what is installed). Package sizes come from
the index too (`poncho.sizes.indexed_sizes`): the rest of the archive is never read.

Any other tarball (no index: an older one, conda-pack's, whatever its compression) is
streamed once through poncho-core's tar reader, keeping only its small members. An index
that does not describe its archive is `BadIndex`: the archive is refused, not streamed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho.sizes import PackageSize, indexed_sizes, is_record, package_sizes
from poncho_core.tarindex import (
    INDEX_NAME,
    TarIndex,
    read_index,
    read_member,
)
from poncho_core.tarstream import member_entries, open_tar

__all__ = ["MemberSize", "TarballContents", "read_tarball"]

SMALL = 4 * 2**20
"""The largest file worth reading (a lock of a big environment is ~200 kB)."""
_PONCHO = ("poncho/spec.json", "poncho/lock.json")


@dataclass(frozen=True)
class MemberSize:
    """One member of an indexed tarball: its `name`, its compressed `size` in the
    tarball and its `usize` decompressed."""

    name: str
    size: int
    usize: int


@dataclass
class TarballContents:
    """What a tarball tells: the texts of its spec and lock (None when absent), its
    ``conda-meta`` documents (read only when there is no lock), its regular files' count
    and sum, their sizes by package, and whether it is `indexed` (then its `members`)."""

    spec_text: str | None = None
    lock_text: str | None = None
    metas: list[Mapping[str, Any]] = field(default_factory=list)
    files: int = 0
    unpacked_size: int = 0
    package_sizes: list[PackageSize] = field(default_factory=list)
    indexed: bool = False
    members: list[MemberSize] = field(default_factory=list)


def read_tarball(path: Path) -> TarballContents:
    """Read `path` as the module says. Raises ArchiveError (BadIndex, UnsupportedArchive)
    naming `path` when it cannot be read, OSError when the file cannot be opened."""
    index = read_index(path)
    return _streamed(path) if index is None else _indexed(path, index)


def _indexed(path: Path, index: TarIndex) -> TarballContents:
    # The index is a file of the unpacked folder too, of no package.
    rows = indexed_sizes(index, {INDEX_NAME: index.length})
    contents = TarballContents(
        files=sum(row.files for row in rows),
        unpacked_size=sum(row.size for row in rows),
        package_sizes=rows,
        indexed=True,
        members=[MemberSize(m.name, m.size, m.usize) for m in index.members],
    )
    wanted = _wanted(index)
    for number in sorted(set(wanted.values())):
        data = read_member(path, index, number)
        for entry, content in member_entries(data, index.members[number], os.fspath(path)):
            name = entry.name.removeprefix("./")
            if name in wanted and len(content) <= SMALL:
                _keep(contents, name, content)
    return contents


def _wanted(index: TarIndex) -> dict[str, int]:
    """The files worth reading, with their member: the spec and the lock; with no lock,
    conda-meta's records."""
    found = {
        f.path: f.member
        for f in index.files
        if f.path.startswith(("poncho/", "conda-meta/")) and f.type == "file" and f.size <= SMALL
    }
    wanted: dict[str, int] = {p: found[p] for p in _PONCHO if p in found}
    if "poncho/lock.json" not in wanted:
        wanted.update((p, member) for p, member in found.items() if _is_meta(p))
    return wanted


def _streamed(path: Path) -> TarballContents:
    contents = TarballContents()
    sizes: dict[str, int] = {}
    records: dict[str, str] = {}
    with open_tar(path) as tar:  # one pass over the stream, nothing written
        for member in tar:
            if not member.isreg():
                continue
            wanted = member.name.removeprefix("./")
            sizes[wanted] = member.size
            if member.size > SMALL:
                continue
            if is_record(wanted):
                records[wanted] = _text(tar.read_data(member.size))
            elif wanted in _PONCHO or _is_meta(wanted):
                _keep(contents, wanted, tar.read_data(member.size))
    contents.files, contents.unpacked_size = len(sizes), sum(sizes.values())
    contents.package_sizes = package_sizes(sizes, contents.metas, records)
    return contents


def _keep(contents: TarballContents, name: str, data: bytes) -> None:
    if name == "poncho/spec.json":
        contents.spec_text = _text(data)
    elif name == "poncho/lock.json":
        contents.lock_text = _text(data)
    else:
        meta = _json_or_none(_text(data))
        if isinstance(meta, dict):
            contents.metas.append(meta)


def _is_meta(path: str) -> bool:
    return path.startswith("conda-meta/") and path.endswith(".json")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None

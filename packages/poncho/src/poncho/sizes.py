"""What makes an environment big: each package's unpacked size and file count.

A conda package's files are listed in its ``conda-meta/*.json`` (``files``), a pip
package's in its ``*.dist-info/RECORD``; both are matched against the sizes of the files
the tarball or the folder holds. A distribution whose RECORD belongs to a conda package
(pip itself, installed by conda) is that conda package. Files of no package (poncho's own,
``.pyc`` files compiled after the install) are summed as one row, `OTHER`.

An indexed tarball tells the same without decompressing anything (`indexed_sizes`): its
index gives every file's size and member, and poncho-create packs each package in a member
of its own (``conda/<name>-<version>-<build>``, ``pip/<name>-<version>``).
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poncho_core.tarindex import TarIndex

__all__ = ["OTHER", "PackageSize", "indexed_sizes", "is_record", "member_owner", "package_sizes"]

OTHER = "(files of no package)"
"""The name of the row of the files no package lists."""

_RECORD = re.compile(r"(?:^|/)site-packages/(?P<dist>[^/]+)\.dist-info/RECORD$")


@dataclass(frozen=True)
class PackageSize:
    """One package's unpacked bytes and files (`kind` is "conda", "pip" or "" for OTHER)."""

    name: str
    kind: str
    size: int
    files: int


def is_record(path: str) -> bool:
    """Whether `path` (relative to the environment's root) is a pip distribution's RECORD."""
    return _RECORD.search(path) is not None


def package_sizes(
    files: Mapping[str, int],
    metas: Iterable[Mapping[str, Any]],
    records: Mapping[str, str],
) -> list[PackageSize]:
    """Sizes by package, largest first. `files` maps each regular file (relative path) to
    its size, `metas` are the conda-meta documents, `records` map a RECORD's path to its
    text."""
    owner: dict[str, tuple[str, str]] = {}
    for meta in metas:
        for path in meta.get("files") or []:
            if isinstance(path, str):
                owner.setdefault(path, ("conda", str(meta.get("name", "?"))))
    for record, text in sorted(records.items()):
        if record in owner:
            continue  # installed by conda: counted with its conda package
        name = _dist_name(_RECORD.search(record)["dist"])  # type: ignore[index]
        base = record.split("/site-packages/", 1)[0] + "/site-packages"
        for row in csv.reader(text.splitlines()):
            if row and row[0]:
                path = posixpath.normpath(posixpath.join(base, row[0]))
                owner.setdefault(path, ("pip", name))
    totals: dict[tuple[str, str], list[int]] = {}
    for path, size in files.items():
        total = totals.setdefault(owner.get(path, ("", OTHER)), [0, 0])
        total[0] += size
        total[1] += 1
    rows = [PackageSize(name, kind, size, count) for (kind, name), (size, count) in totals.items()]
    return sorted(rows, key=lambda r: (-r.size, r.kind, r.name))


def member_owner(member: str) -> tuple[str, str]:
    """The (kind, name) of the package an indexed tarball's member holds: ``("conda",
    "python")`` for ``conda/python-3.12.1-h1_0`` (a conda version and build hold no
    ``-``), ``("pip", "six")`` for ``pip/six-1.16.0``; ``("", OTHER)`` for the others."""
    kind, _, dist = member.partition("/")
    if kind == "conda" and dist.count("-") >= 2:
        return kind, dist.rsplit("-", 2)[0]
    if kind == "pip" and "-" in dist:
        return kind, _normal(dist.rsplit("-", 1)[0])
    return "", OTHER


def indexed_sizes(index: TarIndex, others: Mapping[str, int]) -> list[PackageSize]:
    """Sizes by package, largest first, of the regular files of an indexed tarball: a file
    is its member's package's (`member_owner`), but for the records in ``conda-meta/``,
    which no package lists (so the rows are `package_sizes`' for the same files); `others`
    (path to size) are more files of no package."""
    owners = [member_owner(member.name) for member in index.members]
    sizes, counts = [0] * len(owners), [0] * len(owners)
    other = [sum(others.values()), len(others)]
    for record in index.files:  # tens of thousands: one plain loop
        if record.type != "file":
            continue
        if record.path.startswith("conda-meta/"):
            other[0] += record.size
            other[1] += 1
        else:
            sizes[record.member] += record.size
            counts[record.member] += 1
    totals: dict[tuple[str, str], list[int]] = {("", OTHER): other}
    for owner, size, count in zip(owners, sizes, counts, strict=True):
        total = totals.setdefault(owner, [0, 0])
        total[0] += size
        total[1] += count
    rows = [PackageSize(name, kind, size, count)
            for (kind, name), (size, count) in totals.items() if count]  # fmt: skip
    return sorted(rows, key=lambda r: (-r.size, r.kind, r.name))


def _dist_name(folder: str) -> str:
    """``six`` for ``six-1.16.0`` (a dist-info folder's name without its suffix)."""
    return _normal(folder.split("-", 1)[0])


def _normal(name: str) -> str:
    """A distribution's name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()

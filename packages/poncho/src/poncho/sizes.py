"""What makes an environment big: each package's unpacked size and file count.

A conda package's files are listed in its ``conda-meta/*.json`` (``files``), a pip
package's in its ``*.dist-info/RECORD``; both are matched against the sizes of the files
the tarball or the folder holds. A distribution whose RECORD belongs to a conda package
(pip itself, installed by conda) is that conda package. Files of no package (poncho's own,
``.pyc`` files compiled after the install) are summed as one row, `OTHER`.
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OTHER", "PackageSize", "is_record", "package_sizes"]

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
        key = owner.get(path, ("", OTHER))
        total = totals.setdefault(key, [0, 0])
        total[0] += size
        total[1] += 1
    rows = [PackageSize(name, kind, size, count) for (kind, name), (size, count) in totals.items()]
    return sorted(rows, key=lambda r: (-r.size, r.kind, r.name))


def _dist_name(folder: str) -> str:
    """``six`` for ``six-1.16.0`` (a dist-info folder's name without its suffix)."""
    name = folder.split("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()

"""Which member of an indexed tarball each entry goes into.

- ``conda/<name>-<version>-<build>``: the files ``conda-meta/<dist>.json`` lists, and that
  json;
- ``pip/<name>-<version>``: the files a ``*.dist-info/RECORD`` lists, and its dist-info
  folder (a dist-info conda installed is a conda package's, not a pip distribution);
- ``poncho``: ``poncho/``, ``bin/run_in_env`` and what conda-pack's ``Packer.finish``
  writes (`FINISH_FILES`);
- ``rest``: the others.

Members are sorted by name, entries by path inside a member; a path two members claim goes
to the first. The metadata read is the entries' own (conda-pack's cleaned conda-meta, the
RECORD about to be packed), so the grouping follows what is packed, extra files included.
"""

from __future__ import annotations

import bisect
import csv
import email.parser
import json
import posixpath
import re
from collections.abc import Mapping, Sequence

from poncho_create.pack_entries import Collected

__all__ = ["FINISH_FILES", "group"]

#: What conda-pack's Packer.finish adds to every archive (bin/conda-unpack and activation).
FINISH_FILES = frozenset(
    {"bin/conda-unpack", "bin/conda_unpack_progress.py", "bin/activate", "bin/deactivate",
     "bin/activate.fish"}
)  # fmt: skip
_PONCHO_FILES = FINISH_FILES | {"bin/run_in_env"}
_CONDA_META = re.compile(r"conda-meta/[^/]+\.json")
_RECORD = re.compile(r"(?:.*/)?[^/]+\.dist-info/RECORD")


def group(items: Mapping[str, Collected]) -> list[tuple[str, list[Collected]]]:
    """The members for `items` (path -> entry): (name, entries sorted by path), sorted by
    name, none empty."""
    claims: dict[str, list[str]] = {}
    conda_paths: set[str] = set()
    for target in sorted(t for t in items if _CONDA_META.fullmatch(t)):
        name, files = _conda_package(target, items[target])
        claims.setdefault(name, []).extend([*files, target])
        conda_paths.update(files)
    paths = sorted(items)
    for target in (t for t in paths if _RECORD.fullmatch(t)):
        dist_info = posixpath.dirname(target)
        if target in conda_paths or f"{dist_info}/METADATA" in conda_paths:
            continue
        name = _pip_name(dist_info, items.get(f"{dist_info}/METADATA"))
        claims.setdefault(name, []).extend(
            [*_record_paths(items[target]), *_under(paths, dist_info + "/")]
        )
    owner: dict[str, str] = {}
    for name in sorted(claims):
        for path in claims[name]:
            if path in items:
                owner.setdefault(path, name)
    members: dict[str, list[Collected]] = {}
    for target in paths:
        name = owner.get(target) or ("poncho" if _poncho(target) else "rest")
        members.setdefault(name, []).append(items[target])
    return [(name, members[name]) for name in sorted(members)]


def _under(paths: Sequence[str], folder: str) -> list[str]:
    """The paths of the sorted `paths` that start with `folder` (ending with "/")."""
    start = bisect.bisect_left(paths, folder)
    end = bisect.bisect_left(paths, folder[:-1] + chr(ord("/") + 1))
    return list(paths[start:end])


def _poncho(target: str) -> bool:
    return target.startswith("poncho/") or target in _PONCHO_FILES


def _data(item: Collected) -> bytes:
    return item.entry.data or b""


def _conda_package(target: str, item: Collected) -> tuple[str, Sequence[str]]:
    stem = posixpath.basename(target)[: -len(".json")]
    try:
        meta = json.loads(_data(item))
        name = f"{meta['name']}-{meta['version']}-{meta['build']}"
        files = [str(f) for f in meta.get("files") or ()]
    except (ValueError, TypeError, KeyError, AttributeError):
        return f"conda/{stem}", ()
    return f"conda/{name}", files


def _pip_name(dist_info: str, metadata: Collected | None) -> str:
    if metadata is not None:
        text = _data(metadata).decode("utf-8", "replace")
        message = email.parser.Parser().parsestr(text, headersonly=True)
        name, version = message.get("Name"), message.get("Version")
        if name and version:
            return f"pip/{name}-{version}"
    return "pip/" + posixpath.basename(dist_info)[: -len(".dist-info")]


def _record_paths(record: Collected) -> list[str]:
    """The prefix-relative paths a RECORD lists (relative to its site-packages folder;
    ``../../../bin/x`` for scripts), those outside the prefix left out."""
    base = posixpath.dirname(posixpath.dirname(record.target))
    text = _data(record).decode("utf-8", "replace")
    out = []
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error:
        return []  # a damaged RECORD: its files stay in "rest"
    for row in rows:
        if not row or not row[0]:
            continue
        path = posixpath.normpath(posixpath.join(base, row[0]))
        if not path.startswith("../") and path != ".." and not posixpath.isabs(path):
            out.append(path)
    return out

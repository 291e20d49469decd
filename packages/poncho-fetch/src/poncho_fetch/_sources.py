"""Turn a spec's git and http entries into cache work: a cache key and a way to fill it.

The key is the first 32 hex digits of the sha256 of what determines the content:
``["http", url, sha256, type, compression]`` or ``["git", remote, commit]``. Git refs are
resolved to a commit here (one ``git ls-remote`` for a branch or tag), so a branch that
moves gets a new entry; an abbreviated sha naming no ref is keyed as written.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_fetch import extract, git
from poncho_fetch.errors import FetchError

if TYPE_CHECKING:
    from poncho_fetch.http import RetryPolicy
    from poncho_spec import GitSource, HttpSource, Spec

__all__ = ["Planned", "plan", "url_file_name"]

DATA = "data"
_DOWNLOAD = "download.part"


@dataclass(frozen=True)
class Planned:
    """One spec entry to make available: `var` is the environment variable, `label` the
    entry's name in messages (``http.DATA``), `fill` writes the content into an empty work
    folder and returns the path, relative to it, that `var` must point at."""

    var: str
    label: str
    key: str
    identity: dict[str, Any]
    fill: Callable[[Path], str] = field(compare=False)


def cache_key(identity: list[Any]) -> str:
    """The cache key of an entry (32 hex digits) from what determines its content."""
    text = json.dumps(identity, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def url_file_name(url: str) -> str:
    """The last component of a URL's path (decoded), or "download" if there is none."""
    name = posixpath.basename(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if name in ("", ".", "..") or "\x00" in name:
        return "download"
    return name


def plan(spec: Spec, policy: RetryPolicy | None = None) -> list[Planned]:
    """The work for every git and http entry of `spec` (git refs resolved on the way).

    Raises GitNotFound before anything else if the spec has git entries and git is missing.
    """
    items: list[Planned] = []
    if spec.git:
        git.git_executable()
    for var, source in spec.git.items():
        items.append(_plan_git(var, source))
    for var, hsource in spec.http.items():
        items.append(_plan_http(var, hsource, policy))
    return items


def _plan_git(var: str, source: GitSource) -> Planned:
    label = f"git.{var}"
    ref = source.ref.strip()
    if all(c in "0123456789abcdefABCDEF" for c in ref):
        ref = ref.lower()
    commit = git.resolve_ref(source.remote, ref, key=label)
    pinned = commit if commit is not None else f"abbrev:{ref}"
    identity = {"kind": "git", "remote": source.remote, "ref": source.ref, "commit": pinned}

    def fill(work: Path) -> str:
        got = git.checkout(source.remote, commit or ref, work / DATA, key=label)
        if commit is not None and got != commit:
            raise FetchError(f"{label}: checked out {got} instead of {commit}")
        return DATA

    return Planned(var, label, cache_key(["git", source.remote, pinned]), identity, fill)


def _plan_http(var: str, source: HttpSource, policy: RetryPolicy | None) -> Planned:
    label = f"http.{var}"
    compression = extract.normalize_compression(source.compression)
    sha256 = source.sha256.lower() if source.sha256 else None
    identity = {
        "kind": "http",
        "url": source.url,
        "type": source.type,
        "compression": compression,
        "sha256": sha256,
    }
    if source.type not in ("file", "tar"):
        raise FetchError(f"{label}: unknown type {source.type!r} (expected 'file' or 'tar')")

    def fill(work: Path) -> str:
        from poncho_fetch import http

        name = url_file_name(source.url)
        data = work / DATA
        data.mkdir()
        if source.type == "file" and compression is None:
            http.download(source.url, data / name, key=label, sha256=sha256, policy=policy)
            return f"{DATA}/{name}"
        part = work / _DOWNLOAD
        http.download(source.url, part, key=label, sha256=sha256, policy=policy)
        try:
            if source.type == "tar":
                extract.safe_extract(part, data, source.compression, name=name)
                return DATA
            plain = extract.decompressed_name(name)
            extract.decompress_file(part, data / plain, source.compression, name=name)
            return f"{DATA}/{plain}"
        except FetchError as exc:
            raise type(exc)(f"{label}: {exc}") from exc
        finally:
            part.unlink(missing_ok=True)

    key = cache_key(["http", source.url, sha256, source.type, compression])
    return Planned(var, label, key, identity, fill)

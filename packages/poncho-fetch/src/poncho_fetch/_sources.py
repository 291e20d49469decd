"""Turn a spec's git and http entries into cache work: a cache key and a way to fill it.

The key is the first 32 hex digits of the sha256 of what determines the content:
``["http", url, sha256, type, compression]`` or ``["git", remote, commit]``. Git refs are
resolved to a commit here (one ``git ls-remote`` for a branch or tag), so a branch that
moves gets a new entry; an abbreviated sha naming no ref is keyed as written.

Each entry is planned on its own: one that cannot be planned (a remote that does not answer)
is reported with the others at the end, after every other entry has been tried.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_core.compression import (
    DEFAULT_MAX_RATIO,
    Limits,
    decompressed_name,
    normalize_compression,
    open_decompressed,
)
from poncho_core.errors import LimitExceeded, PonchoError
from poncho_core.extract import extract
from poncho_fetch import git
from poncho_fetch.errors import FetchError

if TYPE_CHECKING:
    from poncho_fetch.http import RetryPolicy
    from poncho_spec import GitSource, HttpSource, Spec

__all__ = ["Planned", "check_size", "entry_limits", "plan", "url_file_name"]

DATA = "data"
_DOWNLOAD = "download.part"
_MAX_FILE_NAME = 120  # bytes; file systems take 255, and a suffix may be added


def entry_limits(max_bytes: int | None, max_ratio: float | None = DEFAULT_MAX_RATIO) -> Limits:
    """The bounds on one entry: `max_bytes` (its size, downloaded and unpacked; None: no
    limit) and `max_ratio` (decompressed size over compressed size; 0 or None: no limit)."""
    return Limits(max_bytes, max_ratio, max_bytes_source="the data cache's limit for one entry")


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
    """The last component of a URL's path (decoded), or "download" if there is none.

    A name longer than 120 bytes is cut, keeping its suffixes (``.tar.gz``), with a digest
    of the whole name in the middle: file names must not depend on the URL's length.
    """
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return "download"
    name = posixpath.basename(urllib.parse.unquote(path))
    if name in ("", ".", "..") or "\x00" in name:
        return "download"
    if len(name.encode("utf-8", "surrogateescape")) <= _MAX_FILE_NAME:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem, _, rest = name.partition(".")
    suffix = "." + rest[-24:] if rest else ""
    return stem.encode("utf-8", "ignore")[:60].decode("utf-8", "ignore") + "-" + digest + suffix


def plan(
    spec: Spec, policy: RetryPolicy | None = None, limits: Limits | None = None
) -> tuple[list[Planned], list[PonchoError]]:
    """The work for every git and http entry of `spec` (git refs resolved on the way), and
    the errors of the entries that could not be planned.

    Raises GitNotFound before anything else if the spec has git entries and git is missing.
    """
    from poncho_fetch.http import RetryPolicy

    policy = policy or RetryPolicy()
    limits = limits or entry_limits(None)
    items: list[Planned] = []
    failures: list[PonchoError] = []
    if spec.git:
        git.git_executable()
    for var, source in spec.git.items():
        try:
            items.append(_plan_git(var, _resolved(spec, var, source), policy, limits))
        except FetchError as exc:
            failures.append(exc)
    for var, hsource in spec.http.items():
        items.append(_plan_http(var, hsource, policy, limits))
    return items, failures


def _resolved(spec: Spec, var: str, source: GitSource) -> GitSource:
    """`source` with a relative remote made absolute against the spec file's folder (as
    create does); never against the current folder: a spec without a folder (read from
    stdin, or from a tarball, whose create stored its remotes resolved) is refused."""
    if not source.is_relative_path:
        return source
    if spec.base_dir is None:
        raise FetchError(
            f"git.{var}: the remote {source.remote!r} is a relative path, and this spec has "
            "no folder to resolve it against: give an absolute path or a URL"
        )
    return spec.with_resolved_remotes().git[var]


def check_size(label: str, size: int, limits: Limits) -> None:
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise LimitExceeded(
            f"{label}: {size} bytes, over the {limits.max_bytes} byte limit of one entry "
            "(the cache's --max-size); not kept"
        )


def _plan_git(var: str, source: GitSource, policy: RetryPolicy, limits: Limits) -> Planned:
    label = f"git.{var}"
    ref = source.ref.strip()
    if all(c in "0123456789abcdefABCDEF" for c in ref):
        ref = ref.lower()
    deadline = time.monotonic() + policy.deadline
    commit = git.resolve_ref(source.remote, ref, key=label, deadline=deadline)
    pinned = commit if commit is not None else f"abbrev:{ref}"
    identity = {"kind": "git", "remote": source.remote, "ref": source.ref, "commit": pinned}

    def fill(work: Path) -> str:
        end = time.monotonic() + policy.deadline
        got = git.checkout(source.remote, commit or ref, work / DATA, key=label, deadline=end)
        if commit is not None and got != commit:
            raise FetchError(f"{label}: checked out {got} instead of {commit}")
        return DATA

    return Planned(var, label, cache_key(["git", source.remote, pinned]), identity, fill)


def _plan_http(var: str, source: HttpSource, policy: RetryPolicy, limits: Limits) -> Planned:
    label = f"http.{var}"
    compression = normalize_compression(source.compression)
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
        max_bytes = limits.max_bytes
        if source.type == "file" and compression is None:
            dest = data / name
            http.download(
                source.url, dest, key=label, sha256=sha256, policy=policy, max_bytes=max_bytes
            )
            return f"{DATA}/{name}"
        part = work / _DOWNLOAD
        http.download(
            source.url, part, key=label, sha256=sha256, policy=policy, max_bytes=max_bytes
        )
        what = f"{label}: {name}"
        try:
            if source.type == "tar":
                extract(part, data, limits=limits, name=what)
                return DATA
            plain = decompressed_name(name)
            with (
                open_decompressed(part, limits=limits, name=what) as stream,
                open(data / plain, "wb") as out,
            ):
                shutil.copyfileobj(stream, out, 1 << 20)
            return f"{DATA}/{plain}"
        finally:
            part.unlink(missing_ok=True)

    key = cache_key(["http", source.url, sha256, source.type, compression])
    return Planned(var, label, key, identity, fill)

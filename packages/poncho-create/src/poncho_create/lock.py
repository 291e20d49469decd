"""The lock: every conda package and pip distribution of a built environment, exactly.

Stored as ``poncho/lock.json`` inside the tarball (and at ``--lock-out``); ``--from-lock``
installs the same conda packages again without solving. Format (``lock_version`` 1)::

    {"lock_version": 1, "platform": "linux-64", "spec_hash": "<sha256>",
     "channels": ["file:///..."],
     "conda": [{"name", "version", "build", "channel", "url", "sha256"}],
     "pip": [{"name", "version", "sha256" (or null), "source": "index|url|vcs|path|installed",
              "url": where it came from (or null), "commit": the VCS commit (vcs only)}],
     "git": [{"var", "remote", "ref", "commit"}]}   (only when the spec has git entries)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_core.fs import atomic_write
from poncho_create.errors import LockError

__all__ = [
    "LOCK_VERSION",
    "PIP_SOURCES",
    "CondaLockEntry",
    "GitLockEntry",
    "Lock",
    "PipLockEntry",
]

LOCK_VERSION = 1
PIP_SOURCES = ("index", "url", "vcs", "path", "installed")
"""Where a locked pip distribution came from, each replayed from exactly there:

- ``index``: a file an index (or ``--find-links``) offered; `url` the file, `sha256` its
  hash. Without them (a lock of a packed environment, or an older lock) only
  ``name==version`` is known, and the index decides the file.
- ``url``: a direct reference to an archive (``name @ https://...``); `url`, `sha256`.
- ``vcs``: a direct reference to a repository (``name @ git+URL@REF``); `url` the
  ``git+URL``, `commit` the commit the ref named.
- ``path``: a local folder or archive; `url` its ``file:`` URL, `sha256` the digest of its
  content (the file's sha256; for a folder, of every file a build reads).
- ``installed``: built from the source of the copy installed in the current environment
  (written by older versions of Poncho only).
"""


@dataclass(frozen=True)
class CondaLockEntry:
    """One conda package: where it came from and its checksum (None if unknown)."""

    name: str
    version: str
    build: str
    channel: str
    url: str
    sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "channel": self.channel,
            "url": self.url,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class PipLockEntry:
    """One pip distribution; `source` says where it came from (one of `PIP_SOURCES`), `url`
    and `sha256` or `commit` exactly which file, folder or commit (None when unknown)."""

    name: str
    version: str
    sha256: str | None = None
    source: str = "index"
    url: str | None = None
    commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``commit`` only when there is one, as older locks had none)."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "source": self.source,
            "url": self.url,
            **({"commit": self.commit} if self.commit else {}),
        }

    def origin(self) -> str:
        """Where it came from, in words: ``index``, ``git+URL@COMMIT``, a URL or a path."""
        if self.source == "vcs":
            return f"{self.url}@{self.commit}"
        if self.source in ("url", "path") and self.url:
            return self.url
        return self.source


@dataclass(frozen=True)
class GitLockEntry:
    """A git source of the spec: the `ref` it gives and the `commit` that ref named when
    the environment was created."""

    var: str
    remote: str
    ref: str
    commit: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"var": self.var, "remote": self.remote, "ref": self.ref, "commit": self.commit}


@dataclass(frozen=True)
class Lock:
    """A whole lock; entries are kept sorted by name so equal environments give equal locks."""

    platform: str
    spec_hash: str
    channels: tuple[str, ...] = ()
    conda: tuple[CondaLockEntry, ...] = ()
    pip: tuple[PipLockEntry, ...] = field(default=())
    git: tuple[GitLockEntry, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "git", tuple(sorted(self.git, key=lambda e: e.var)))
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "conda", tuple(sorted(self.conda, key=lambda e: e.name)))
        object.__setattr__(self, "pip", tuple(sorted(self.pip, key=lambda e: e.name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "lock_version": LOCK_VERSION,
            "platform": self.platform,
            "spec_hash": self.spec_hash,
            "channels": list(self.channels),
            "conda": [entry.to_dict() for entry in self.conda],
            "pip": [entry.to_dict() for entry in self.pip],
            **({"git": [entry.to_dict() for entry in self.git]} if self.git else {}),
        }

    def dumps(self) -> str:
        """The lock as indented JSON text (ends with a newline)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: Path) -> None:
        """Write the lock to `path` atomically (temp file in the same folder, then replace)."""
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, self.dumps())
        except OSError as exc:
            raise LockError(f"{path}: cannot write the lock: {exc.strerror or exc}") from exc

    @classmethod
    def from_dict(cls, data: object, source: str = "lock") -> Lock:
        """Read a decoded lock document; LockError naming every problem found."""
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise LockError(f"{source}: a lock is a JSON object")
        if data.get("lock_version") != LOCK_VERSION:
            problems.append(f"lock_version must be {LOCK_VERSION}")
        platform = _string(data, "platform", "", problems)
        spec_hash = _string(data, "spec_hash", "", problems)
        channels = data.get("channels", [])
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            problems.append("channels: must be a list of strings")
            channels = []
        conda: list[CondaLockEntry] = []
        for where, item in _objects(data, "conda", problems):
            conda.append(
                CondaLockEntry(
                    name=_string(item, "name", where, problems),
                    version=_string(item, "version", where, problems),
                    build=_string(item, "build", where, problems),
                    channel=_optional_string(item, "channel", where, problems) or "",
                    url=_string(item, "url", where, problems),
                    sha256=_optional_string(item, "sha256", where, problems),
                )
            )
        pip: list[PipLockEntry] = []
        for where, item in _objects(data, "pip", problems):
            pip_source = _string(item, "source", where, problems)
            if pip_source and pip_source not in PIP_SOURCES:
                problems.append(f"{where}.source: must be one of {', '.join(PIP_SOURCES)}")
            entry = PipLockEntry(
                name=_string(item, "name", where, problems),
                version=_string(item, "version", where, problems),
                sha256=_optional_string(item, "sha256", where, problems),
                source=pip_source,
                url=_optional_string(item, "url", where, problems),
                commit=_optional_string(item, "commit", where, problems),
            )
            for key in _REQUIRED.get(pip_source, ()):
                if not getattr(entry, key):
                    problems.append(f"{where}.{key}: a {pip_source} source needs one")
            pip.append(entry)
        git: list[GitLockEntry] = []
        for where, item in _objects(data, "git", problems):
            git.append(
                GitLockEntry(
                    *(_string(item, k, where, problems) for k in GitLockEntry.__annotations__)
                )
            )
        if problems:
            raise LockError("\n".join(f"{source}: {problem}" for problem in problems))
        return cls(platform, spec_hash, tuple(channels), tuple(conda), tuple(pip), tuple(git))

    @classmethod
    def read(cls, path: Path) -> Lock:
        """Read a lock file; LockError if it is missing or not a valid lock."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise LockError(f"{path}: cannot read lock file: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise LockError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_dict(data, source=str(path))


_REQUIRED = {"url": ("url",), "vcs": ("url", "commit")}
"""What a pip source cannot be replayed without (a ``path`` comes from the spec: older
locks have no `url` for it)."""


def conda_entries_from_prefix(prefix: Path) -> list[CondaLockEntry]:
    """The conda packages installed in `prefix`, read from its ``conda-meta/*.json``."""
    entries = []
    for meta_file in sorted((prefix / "conda-meta").glob("*.json")):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        entries.append(
            CondaLockEntry(
                name=str(meta["name"]),
                version=str(meta["version"]),
                build=str(meta["build"]),
                channel=str(meta.get("channel") or ""),
                url=str(meta.get("url") or ""),
                sha256=meta.get("sha256") or None,
            )
        )
    return entries


def _objects(
    data: Mapping[str, Any], key: str, problems: list[str]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The entries of the list `key` that are objects, with their JSON path; the others are
    problems."""
    for index, item in enumerate(_list(data, key, problems)):
        where = f"{key}[{index}]"
        if isinstance(item, Mapping):
            yield where, item
        else:
            problems.append(f"{where}: must be an object")


def _list(data: Mapping[str, Any], key: str, problems: list[str]) -> Iterable[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{key}: must be a list")
        return []
    return value


def _string(data: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        problems.append(f"{where + '.' if where else ''}{key}: must be a non-empty string")
        return ""
    return value


def _optional_string(
    data: Mapping[str, Any], key: str, where: str, problems: list[str]
) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(f"{where}.{key}: must be a string or null")
        return None
    return value

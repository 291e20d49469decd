"""The parts of a spec as immutable values: its conda section and its data sources.

They import nothing of the package, so that validation (which builds them) and the
:class:`~poncho_spec.Spec` model (which holds them) both stand on them; the public names
are :mod:`poncho_spec.model`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_CHANNELS", "CondaSection", "GitSource", "HttpSource", "pin_matchspec"]

DEFAULT_CHANNELS: tuple[str, ...] = ("conda-forge",)
"""Channels used when a spec gives none (a missing and an empty list mean the same)."""

HttpType = Literal["file", "tar"]


@dataclass(frozen=True)
class CondaSection:
    """The conda part: channels in priority order, and match specs as written."""

    channels: tuple[str, ...] = DEFAULT_CHANNELS
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitSource:
    """A git checkout exposed to the task through an environment variable.

    `ref` should be a full commit sha; "HEAD" (the default branch) when the spec gives none.
    """

    remote: str
    ref: str = "HEAD"

    @property
    def is_relative_path(self) -> bool:
        """Whether `remote` is a local path relative to a folder (``../data/repo``), which
        only the folder of the spec it was written in gives a meaning to."""
        return is_relative_remote(self.remote)


def is_relative_remote(remote: str) -> bool:
    """A git remote that is a relative local path: not a URL (``scheme://``), not scp-like
    (``host:path``, ``user@host:path``), not absolute (``/``, ``~``, ``file:``)."""
    if not remote or "://" in remote or remote.startswith(("/", "~", "file:")):
        return False
    return ":" not in remote.split("/", 1)[0]


@dataclass(frozen=True)
class HttpSource:
    """A file downloaded over HTTP(S), kept as a file or extracted (`type` "tar").

    `compression` ("gzip", "bzip2", "xz") is undone after download; `sha256` (lowercase
    hex), when given, is the checksum of the bytes downloaded.
    """

    url: str
    type: HttpType = "file"
    compression: str | None = None
    sha256: str | None = None


def pin_matchspec(name: str, version: str) -> str:
    """The conda match spec of a pin, for ``conda-meta/pinned`` and the solver: ``python=3.11``
    for a version (conda's "3.11.*", as CCTools wrote it), ``python 3.11.*`` for a pattern
    (strict parsers refuse ``=3.11.*``), ``python >=3.10,<3.12`` for a constraint."""
    version = version.strip()
    if version[:1].isdigit() and "*" not in version:
        return f"{name}={version}"
    return f"{name} {version}"

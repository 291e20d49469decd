"""The typed, immutable model of a Poncho environment spec.

Build one with :meth:`Spec.from_dict` (or :func:`poncho_spec.load_spec`), which validates the
document and collects every problem before raising :class:`~poncho_spec.InvalidSpec` once.
Two specs compare equal when they mean the same environment (same canonical form).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from poncho_spec import canonical
from poncho_spec._sections import (
    DEFAULT_CHANNELS,
    CondaSection,
    GitSource,
    HttpSource,
    pin_matchspec,
)

__all__ = ["DEFAULT_CHANNELS", "CondaSection", "GitSource", "HttpSource", "Spec", "pin_matchspec"]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, eq=False)
class Spec:
    """A validated environment spec (modern form; legacy forms are converted on reading).

    `pip` holds the entries of the nested ``{"pip": [...]}`` dependency and of the legacy
    top-level ``pip`` list. `pinned` maps conda package names to the version they are held
    at (CCTools' ``{"pinned": {"conda": {...}}}``, written to ``conda-meta/pinned``).
    `warnings` are "<path>: <message>" strings about things that are
    allowed but not recommended (moving git refs, non-portable paths). `base_dir` is the
    folder of the spec file (relative local pip paths are relative to it), `source` the name
    used in messages; neither takes part in equality or the hash.
    """

    conda: CondaSection = field(default_factory=CondaSection)
    pip: tuple[str, ...] = ()
    git: Mapping[str, GitSource] = field(default_factory=dict)
    http: Mapping[str, HttpSource] = field(default_factory=dict)
    pinned: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    base_dir: Path | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "git", _frozen_mapping(self.git))
        object.__setattr__(self, "http", _frozen_mapping(self.http))
        object.__setattr__(self, "pinned", _frozen_mapping(self.pinned))

    @classmethod
    def from_dict(
        cls, data: object, *, source: str | None = None, base_dir: Path | str | None = None
    ) -> Spec:
        """Validate a decoded JSON document (modern or legacy form) and build the spec.

        Raises InvalidSpec listing every problem found, each with its JSON path.
        """
        from poncho_spec._build import spec_fields

        return cls(**spec_fields(data, source, Path(base_dir) if base_dir is not None else None))

    def to_dict(self) -> dict[str, Any]:
        """The spec in modern form as JSON-ready data (entries as written, in their order)."""
        dependencies: list[Any] = list(self.conda.dependencies)
        if self.pip:
            dependencies.append({"pip": list(self.pip)})
        out: dict[str, Any] = {
            "conda": {"channels": list(self.conda.channels), "dependencies": dependencies}
        }
        if self.git:
            out["git"] = {var: {"remote": g.remote, "ref": g.ref} for var, g in self.git.items()}
        if self.http:
            out["http"] = {var: _http_dict(h) for var, h in self.http.items()}
        if self.pinned:
            out["pinned"] = {"conda": dict(self.pinned)}
        return out

    def with_resolved_remotes(self) -> Spec:
        """This spec with its relative git remotes (``../data/repo``) made absolute, against
        `base_dir` (the spec file's folder), or the current folder for a spec not read from a
        file. Create stores a spec so: who reads it elsewhere cannot know that folder."""
        if not any(g.is_relative_path for g in self.git.values()):
            return self
        import dataclasses
        import os

        base = self.base_dir if self.base_dir is not None else Path.cwd()
        git = {
            var: GitSource(os.path.normpath(str(base.absolute() / g.remote)), g.ref)
            if g.is_relative_path
            else g
            for var, g in self.git.items()
        }
        return dataclasses.replace(self, git=git)

    def pinned_specs(self) -> tuple[str, ...]:
        """The pins as conda match specs (see :func:`pin_matchspec`), sorted by name."""
        return tuple(pin_matchspec(name, v) for name, v in sorted(self.pinned.items()))

    def pip_local_paths(self) -> dict[str, Path]:
        """The pip entries that are local paths, each with the absolute path it names.

        ``~`` is expanded; relative paths are relative to `base_dir` (the spec file's folder),
        or to the current folder for a spec not read from a file; ``file:`` URLs are
        converted. Requirements (PEP 508) are left out. Raises InvalidSpec when a path
        cannot be resolved here (``~user`` for a user this machine does not have).
        """
        from poncho_spec import _pip
        from poncho_spec.errors import InvalidSpec, Problem

        base = self.base_dir if self.base_dir is not None else Path.cwd()
        try:
            return {
                entry: _pip.local_path(entry, base)
                for entry in self.pip
                if _pip.is_path(entry, self.base_dir)
            }
        except ValueError as exc:
            raise InvalidSpec([Problem("pip", str(exc))], self.source) from None

    def canonical_dict(self) -> dict[str, Any]:
        """The canonical form as data; see :mod:`poncho_spec.canonical`."""
        return canonical.canonical_dict(self)

    def canonical_json(self) -> str:
        """The canonical form as compact JSON text; see :mod:`poncho_spec.canonical`."""
        return self._canonical_json

    def hash(self) -> str:
        """sha256 hex digest of :meth:`canonical_json`: names environments built from it."""
        return self._hash

    @functools.cached_property
    def _canonical_json(self) -> str:
        return canonical.canonical_json(self)

    @functools.cached_property
    def _hash(self) -> str:
        return canonical.hash_canonical(self._canonical_json)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Spec):
            return NotImplemented
        return self._canonical_json == other._canonical_json

    def __hash__(self) -> int:
        return hash(self._canonical_json)


def _http_dict(source: HttpSource) -> dict[str, Any]:
    out: dict[str, Any] = {"url": source.url, "type": source.type}
    if source.compression is not None:
        out["compression"] = source.compression
    if source.sha256 is not None:
        out["sha256"] = source.sha256
    return out

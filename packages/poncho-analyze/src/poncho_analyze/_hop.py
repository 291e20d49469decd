"""One hop into installed code: the distribution a submodule re-exports.

``from dask.distributed import Client`` loads ``dask/distributed.py``, a shim whose only
work is ``from distributed import *``: the code comes from the separate ``distributed``
distribution, which ``dask`` requires only as an extra (``dask[distributed]``).  Pinning
``dask`` alone gives an environment where the import fails.  So for an import of a
submodule (``pkg.sub``), the module file is parsed and each import it makes whenever it
is imported (see :func:`~poncho_analyze.imports.required_imports`) that leads to
another installed distribution, not among ``pkg``'s hard requirements, is added too.
One hop only: what that distribution imports is its own requirements' business, and a
re-export through another module of ``pkg`` (``pkg/sub.py`` importing ``pkg._impl``) is
not followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from poncho_analyze import _cache
from poncho_analyze._conditions import Target
from poncho_analyze._log import get_logger
from poncho_analyze.errors import AnalyzeError
from poncho_analyze.imports import Import, required_imports
from poncho_analyze.mapping import Mapper, Owner, _locate, canonical_name

__all__ = ["Hop", "Hops"]

log = get_logger(__name__)


# A NamedTuple, not a dataclass: made at import, several times cheaper, and every run
# of the command pays for each class it makes.
class Hop(NamedTuple):
    """``module`` (a submodule the script imports) re-exports ``owner``'s code."""

    module: str
    owner: Owner
    reason: str


# Compiled when first used (re keeps them): most runs read no METADATA.
_REQUIRES = r"(?m)^Requires-Dist:[ \t]*([A-Za-z0-9][A-Za-z0-9._-]*)([^\n]*)$"
_EXTRA_MARKER = r";.*\bextra\b"


def _hard_requirements(metadata: str) -> Iterable[str]:
    """The distributions a METADATA file requires without an extra (its headers end at
    the first empty line; a plain scan is all it takes, no email parser)."""
    headers = metadata.split("\n\n", 1)[0]
    for m in re.finditer(_REQUIRES, headers):
        if not re.search(_EXTRA_MARKER, m.group(2)):
            yield canonical_name(m.group(1))


class Hops:
    """Finds re-exported distributions; parses each module file once."""

    def __init__(self, mapper: Mapper, stdlib: frozenset[str], target: Target) -> None:
        self.mapper = mapper
        self.stdlib = stdlib
        self.target = target
        self._parsed: dict[Path, tuple[tuple[str, tuple[str, ...], int, int], ...]] = {}
        self._required: dict[tuple[str, str], frozenset[str]] = {}
        self._stored: dict[str, Any] | None = None  # the persistent per-file cache
        self._changed = False

    def _module_file(self, dotted: str) -> Path | None:
        parts = dotted.split(".")
        found = _locate(parts[0], self.mapper.env.paths, self.mapper.listings)
        for part in parts[1:]:
            if found is None or not found.portions:
                return None
            found = _locate(part, found.portions, self.mapper.listings)
        return found.file if found is not None and len(parts) > 1 else None

    def _imports(self, file: Path) -> tuple[tuple[str, tuple[str, ...], int, int], ...]:
        """``(module, names, level, line)`` of each import *file* always makes; kept in
        the environment's cache, keyed by the file's size and time and the target."""
        if file in self._parsed:
            return self._parsed[file]
        if self._stored is None:
            self._stored = _cache.load_files(self.mapper.env)
        try:
            info = file.stat()
        except OSError:
            return ()
        key = f"hop:{file}:{info.st_size}:{info.st_mtime_ns}:{self.target.version[:2]}"
        known = self._stored.get(key)
        if isinstance(known, tuple):
            self._parsed[file] = known
            return known
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
            found = required_imports(text, str(file), self.target).imports
        except (OSError, AnalyzeError) as exc:
            log.info("not following %s: %s", file, exc)
            found = ()
        result = tuple((i.module, i.names, i.level, i.line) for i in found)
        self._parsed[file] = self._stored[key] = result
        self._changed = True
        return result

    def save(self) -> None:
        """Keep what was parsed for the next analysis in this environment."""
        if self._changed and self._stored is not None:
            _cache.store_files(self.mapper.env, self._stored)
            self._changed = False

    def requirements(self, owner: Owner) -> frozenset[str]:
        """Canonical names of what *owner* always requires (no extra)."""
        key = (owner.kind, owner.name)
        if key not in self._required:
            self._required[key] = frozenset(self._read_requirements(owner))
        return self._required[key]

    def _read_requirements(self, owner: Owner) -> Iterable[str]:
        if owner.kind == "pip":
            try:
                text = (Path(owner.metadata_dir) / "METADATA").read_text(encoding="utf-8")
            except OSError:
                return
            yield from _hard_requirements(text)
            return
        import json

        record_name = owner.evidence.removeprefix("conda-meta: ")
        for prefix in self.mapper.env.conda_prefixes():
            try:
                record = json.loads((prefix / "conda-meta" / record_name).read_text("utf-8"))
            except (OSError, ValueError):
                continue
            for dep in record.get("depends") or ():
                if isinstance(dep, str) and dep.split():
                    yield canonical_name(dep.split()[0])
            return

    def follow(self, owner: Owner, candidates: Iterable[str]) -> list[Hop]:
        """What the submodules among *candidates* (dotted names under one top-level
        package that *owner* provides) re-export from other distributions."""
        hops: dict[str, Hop] = {}
        top_of_owner = None
        for dotted in candidates:
            if "." not in dotted:
                continue
            file = self._module_file(dotted)
            if file is None or file.name.endswith((".so", ".pyd")):
                continue
            top_of_owner = top_of_owner or dotted.split(".")[0]
            for module, names, level, line in self._imports(file):
                imp = Import(module, names, level, line=line)
                if imp.level or imp.top in self.stdlib or imp.top == top_of_owner:
                    continue
                found = self.mapper.resolve(imp.candidates).owner
                if found is None or found.name == owner.name:
                    continue
                name = canonical_name(found.name)
                if name in self.requirements(owner) or name in hops:
                    continue
                hops[name] = Hop(
                    dotted,
                    found,
                    f"{dotted} ({file.name} of {owner.name}) "
                    f"imports {imp.module} at line {imp.line}; {found.name} is "
                    f"not a requirement of {owner.name}",
                )
        return list(hops.values())

"""Which installed package provides an imported module, from installed metadata only.

Nothing is imported: a module is located on the environment's search path the way the
import system would find it (package directory, module file, extension module, namespace
portions), and the file found is looked up in the index of what is installed (see
:mod:`poncho_analyze._installed`): the conda package that owns a file wins over the
distribution metadata conda also installs, unless pip has since replaced it;
``top_level.txt`` answers for distributions that list no files.

So renames (``yaml`` from PyYAML, ``sklearn`` from scikit-learn) and namespace packages
(``google.protobuf`` from protobuf) come out of the metadata, with no built-in table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from poncho_analyze._installed import (
    MODULE_SUFFIXES,
    Installed,
    Owner,
    canonical_name,
    norm,
    normalize_channel,
)
from poncho_analyze.environments import Environment

__all__ = ["Environment", "Mapper", "Owner", "Resolution", "canonical_name", "normalize_channel"]


# A NamedTuple, not a dataclass: made at import, several times cheaper, and every run
# of the command pays for each class it makes.
class Resolution(NamedTuple):
    """Where an import leads: ``owner``, or None with ``reason`` saying why."""

    module: str
    owner: Owner | None
    reason: str
    location: str = ""


# A NamedTuple, not a dataclass: made at import, several times cheaper, and every run
# of the command pays for each class it makes.
class _Found(NamedTuple):
    kind: Literal["module", "package", "namespace"]
    file: Path | None
    portions: tuple[Path, ...] = ()


def _names(folder: Path, listings: dict[Path, frozenset[str]] | None) -> frozenset[str]:
    """The entries of *folder* (listed once per *listings*: one analysis)."""
    if listings is not None and folder in listings:
        return listings[folder]
    try:
        names = frozenset(os.listdir(folder))  # noqa: PTH208 - names, not Path objects: faster
    except OSError:
        names = frozenset()
    if listings is not None:
        listings[folder] = names
    return names


def _locate(
    name: str, paths: Iterable[Path], listings: dict[Path, frozenset[str]] | None = None
) -> _Found | None:
    """Find module *name* (one component) in *paths* as the path finder would."""
    portions = []
    for folder in paths:
        entries = _names(folder, listings)
        if not entries:
            continue
        candidate = folder / name
        is_dir = name in entries and candidate.is_dir()
        if is_dir:
            for init in ("__init__.py", "__init__.pyc"):
                if (candidate / init).is_file():
                    return _Found("package", candidate / init, (candidate,))
        for entry in sorted(e for e in entries if e.startswith(name + ".")):
            rest = entry[len(name) :]
            if entry.endswith(MODULE_SUFFIXES) and (
                rest in MODULE_SUFFIXES or rest.count(".") == 2
            ):
                return _Found("module", folder / entry)
        if is_dir:
            portions.append(candidate)
    if portions:
        return _Found("namespace", None, tuple(portions))
    return None


class Mapper:
    """Maps imports and package names to what is installed in an :class:`Environment`."""

    def __init__(self, env: Environment, *, cache: bool = True) -> None:
        self.env = env
        self.listings: dict[Path, frozenset[str]] = {}
        """Folder listings read so far (a Mapper serves one analysis)."""
        from poncho_analyze import _cache

        data = _cache.load(env) if cache else None
        if data is not None:
            self._index = Installed.restore(data)
            return
        stamp = _cache.stamp(env)
        self._index = Installed.read(env)
        if cache:
            _cache.store(env, self._index.dump(), stamp)

    @property
    def is_conda(self) -> bool:
        """Whether the environment is a conda environment (it has conda-meta records)."""
        return bool(self._index.conda_by_name)

    def conda_package(self, name: str) -> Owner | None:
        """The conda package *name* installed in the environment, if any."""
        return self._index.conda_by_name.get(name.lower())

    def by_name(self, name: str, kind: str | None = None) -> Owner | None:
        """The package called *name*: a conda package, else a pip distribution (only the
        *kind* asked, ``"conda"`` or ``"pip"``, when given; a conda package's own
        dist-info counts as a pip distribution)."""
        conda = self._index.conda_by_name.get(name.lower()) if kind != "pip" else None
        if conda is not None or kind == "conda":
            return conda
        return self._index.pip_by_name.get(canonical_name(name))

    # -- lookups ------------------------------------------------------------------------

    def _file_owner(self, file: Path) -> Owner | None:
        key = norm(file)
        conda = self._index.conda_files.get(key)
        pip = self._index.pip_files.get(key)
        if conda is not None and pip is not None:
            # conda installs the distribution's metadata too; if pip replaced the
            # package, the new dist-info is not a conda file.
            if str(Path(pip.metadata_dir) / "METADATA") in self._index.conda_files:
                return conda
            return pip
        return conda or pip

    def _folder_owners(self, folders: Iterable[Path]) -> list[Owner]:
        prefixes = tuple(norm(f) + os.sep for f in folders)
        owners: dict[tuple[str, str], Owner] = {}
        for files in (self._index.conda_files, self._index.pip_files):
            for file, owner in files.items():
                if file.startswith(prefixes):
                    owners.setdefault((owner.kind, owner.name), owner)
        return sorted(owners.values(), key=lambda o: (o.kind, o.name.lower()))

    def resolve(self, candidates: Sequence[str]) -> Resolution:
        """The package providing the first of *candidates* (dotted names, most specific
        first, all under one top-level name) that can be located."""
        top = candidates[-1].split(".")[0]
        found = _locate(top, self.env.paths, self.listings)
        if found is None:
            tops = self._index.pip_tops.get(top, [])
            if len(tops) == 1:
                return Resolution(top, tops[0], f"top_level.txt of {tops[0].name}")
            return Resolution(top, None, "not found on the module search path")
        if found.kind != "namespace":
            return self._owned(top, found)
        best: tuple[str, _Found] = (top, found)
        for dotted in candidates:
            parts = dotted.split(".")
            here, name = found, top
            for part in parts[1:]:
                nxt = _locate(part, here.portions, self.listings)
                if nxt is None:
                    break
                here, name = nxt, f"{name}.{part}"
                if nxt.kind != "namespace":
                    return self._owned(name, nxt)
            if name.count(".") > best[0].count("."):
                best = (name, here)
        name, here = best
        module = candidates[-1]
        if module != name and module.startswith(name + "."):
            return Resolution(module, None, f"not found in the namespace package {name}")
        owners = self._folder_owners(here.portions)
        if len(owners) == 1:
            return Resolution(
                name, owners[0], f"namespace package; {owners[0].evidence}", str(here.portions[0])
            )
        if not owners:
            return Resolution(name, None, "namespace package that no installed package provides")
        listed = ", ".join(o.name for o in owners)
        return Resolution(
            name,
            None,
            f"namespace package shared by {listed}: name a submodule or use --pkg-mapping",
        )

    def _owned(self, name: str, found: _Found) -> Resolution:
        assert found.file is not None
        owner = self._file_owner(found.file)
        if owner is None:  # an editable install lists its .pth file, not the sources
            key = norm(found.file)
            inside = [(len(f), o) for f, o in self._index.sources if key.startswith(f)]
            if inside:
                owner = max(inside, key=lambda pair: pair[0])[1]
        if owner is None:
            tops = self._index.pip_tops.get(name.split(".")[0], [])
            if len(tops) == 1:
                owner = tops[0]
                return Resolution(name, owner, f"top_level.txt of {owner.name}", str(found.file))
            return Resolution(
                name,
                None,
                f"found at {found.file}, but no installed package lists that file",
                str(found.file),
            )
        return Resolution(name, owner, owner.evidence, str(found.file))

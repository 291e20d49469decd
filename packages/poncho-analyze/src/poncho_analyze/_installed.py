"""What is installed in an environment, read from its metadata and indexed for lookups.

- conda packages: ``<prefix>/conda-meta/*.json`` (``name``, ``version``, ``build``,
  ``channel``, ``files``);
- Python distributions: ``*.dist-info/RECORD`` (or ``installed-files.txt`` of an
  ``.egg-info``), ``top_level.txt``, and PEP 610's ``direct_url.json`` for one installed
  from a local folder, a repository or a direct URL (see :mod:`poncho_analyze._direct_url`).

Only the files a lookup can ask about are indexed (see :func:`_lookup_files`).  The index
has a cached form (owners once, then indexes into them) for ``_cache``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from poncho_analyze._direct_url import origin
from poncho_analyze._log import get_logger
from poncho_analyze.environments import Environment

__all__ = ["MODULE_SUFFIXES", "Installed", "Owner", "canonical_name", "norm", "normalize_channel"]

log = get_logger(__name__)

_SUBDIRS = frozenset(
    {
        "noarch",
        "linux-64",
        "linux-aarch64",
        "linux-ppc64le",
        "linux-s390x",
        "linux-32",
        "osx-64",
        "osx-arm64",
        "win-64",
        "win-32",
        "win-arm64",
        "emscripten-wasm32",
    }
)
_ANACONDA_ORG = r"https?://conda\.anaconda\.org/([^/]+(?:/label/[^/]+)?)$"  # compiled when used
MODULE_SUFFIXES = (".py", ".pyc", ".pyd", ".so")


def normalize_channel(channel: str) -> str:
    """A conda-meta ``channel`` (often a URL with a platform subdir) as a spec channel:
    ``https://conda.anaconda.org/conda-forge/linux-64`` -> ``conda-forge``; other URLs
    keep their address without the subdir."""
    channel = channel.strip().rstrip("/")
    head, _, last = channel.rpartition("/")
    if head and last in _SUBDIRS:
        channel = head
    m = re.match(_ANACONDA_ORG, channel)
    return m.group(1) if m else channel


def canonical_name(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Owner:
    """An installed package: a conda package or a pip-installed distribution."""

    kind: Literal["conda", "pip"]
    name: str
    version: str
    evidence: str
    build: str = ""
    channel: str = ""
    metadata_dir: str = field(default="", compare=False)
    source: str = ""
    """For a project installed from a local folder (``pip install [-e] ./mylib``): that
    folder, absolute.  No index has such a version; the folder is what builds it."""
    direct: str = ""
    """For a distribution installed from a repository or a URL that is not an index's:
    the URL of its direct reference (``git+https://host/repo@COMMIT``)."""

    def requirement(self, *, build: bool = False, extras: Sequence[str] = ()) -> str:
        """``name=version[=build]`` for conda, ``Name[extras]==version`` for pip, the
        source folder for a project installed from a local folder, ``Name[extras] @ URL``
        for one installed from a repository or a direct URL."""
        if self.source:
            return self.source
        if self.kind == "conda":
            pin = f"{self.name}={self.version}"
            return f"{pin}={self.build}" if build and self.build else pin
        extra = f"[{','.join(sorted(extras))}]" if extras else ""
        if self.direct:
            return f"{self.name}{extra} @ {self.direct}"
        return f"{self.name}{extra}=={self.version}"


def _lookup_files(files: Iterable[str]) -> list[str]:
    """The files of one package that a lookup can ask about: what the import system finds
    first (``__init__.py``, a module at the top or in a namespace folder, an extension)
    and ``METADATA``.  The modules inside a regular package are never asked about, and
    they are most of an environment's files: leaving them out makes the map (and its
    cache) several times smaller."""
    files = [f.replace("\\", "/") for f in files]
    packages = {
        f.rpartition("/")[0] for f in files if f.endswith(("/__init__.py", "/__init__.pyc"))
    }
    return [
        f
        for f in files
        if f.endswith("/METADATA")
        or (
            f.endswith(MODULE_SUFFIXES)
            and "/__pycache__/" not in f
            and (
                f.rpartition("/")[0] not in packages
                or f.endswith(("/__init__.py", "/__init__.pyc"))
            )
        )
    ]


def norm(path: Path | str) -> str:
    """*path* as the index keys it: real, case-normalized."""
    return os.path.normcase(os.path.realpath(path))


class Installed:
    """The index: installed files (conda's and pip's) and names to their :class:`Owner`,
    top-level names of distributions that list no files, local source folders."""

    def __init__(self) -> None:
        self.conda_files: dict[str, Owner] = {}
        self.conda_by_name: dict[str, Owner] = {}
        self.pip_files: dict[str, Owner] = {}
        self.pip_by_name: dict[str, Owner] = {}
        self.pip_tops: dict[str, list[Owner]] = {}
        self.sources: list[tuple[str, Owner]] = []

    @classmethod
    def read(cls, env: Environment) -> Installed:
        """Read the metadata of what is installed in *env*."""
        index = cls()
        index._load_conda(env)
        index._load_pip(env)
        return index

    def dump(self) -> dict[str, Any]:
        """The cached form: owners once, then indexes into them (builtin types only)."""
        index: dict[Owner, int] = {}
        owners: list[tuple[str, ...]] = []

        def at(owner: Owner) -> int:
            if owner not in index:
                index[owner] = len(owners)
                owners.append(
                    (
                        owner.kind,
                        owner.name,
                        owner.version,
                        owner.evidence,
                        owner.build,
                        owner.channel,
                        owner.metadata_dir,
                        owner.source,
                        owner.direct,
                    )
                )
            return index[owner]

        return {
            "conda_files": {k: at(o) for k, o in self.conda_files.items()},
            "conda_by_name": {k: at(o) for k, o in self.conda_by_name.items()},
            "pip_files": {k: at(o) for k, o in self.pip_files.items()},
            "pip_by_name": {k: at(o) for k, o in self.pip_by_name.items()},
            "pip_tops": {k: [at(o) for o in v] for k, v in self.pip_tops.items()},
            "sources": [(k, at(o)) for k, o in self.sources],
            "owners": owners,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Installed:
        """The index again from :meth:`dump`'s form."""
        index = cls()
        owners = [
            Owner(
                kind,
                name,
                version,
                evidence,
                build=build,
                channel=channel,
                metadata_dir=meta,
                source=source,
                direct=direct,
            )
            for kind, name, version, evidence, build, channel, meta, source, direct in data[
                "owners"
            ]
        ]
        index.conda_files = {k: owners[i] for k, i in data["conda_files"].items()}
        index.conda_by_name = {k: owners[i] for k, i in data["conda_by_name"].items()}
        index.pip_files = {k: owners[i] for k, i in data["pip_files"].items()}
        index.pip_by_name = {k: owners[i] for k, i in data["pip_by_name"].items()}
        index.pip_tops = {k: [owners[i] for i in v] for k, v in data["pip_tops"].items()}
        index.sources = [(k, owners[i]) for k, i in data["sources"]]
        return index

    def _load_conda(self, env: Environment) -> None:
        for prefix in env.conda_prefixes():
            for record_file in sorted((prefix / "conda-meta").glob("*.json")):
                try:
                    record = json.loads(record_file.read_text(encoding="utf-8"))
                    name, version = str(record["name"]), str(record["version"])
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    log.warning("skipping unreadable conda record %s: %s", record_file, exc)
                    continue
                channel = str(record.get("channel") or "")
                if not channel and record.get("url"):
                    channel = str(record["url"]).rsplit("/", 1)[0]
                owner = Owner(
                    "conda",
                    name,
                    version,
                    f"conda-meta: {record_file.name}",
                    build=str(record.get("build") or ""),
                    channel=normalize_channel(channel),
                )
                self.conda_by_name.setdefault(name.lower(), owner)
                root = prefix.resolve()
                files = [
                    r
                    for r in record.get("files") or ()
                    if isinstance(r, str) and "site-packages/" in r
                ]
                for rel in _lookup_files(files):
                    self.conda_files[norm(root / rel)] = owner

    def _load_pip(self, env: Environment) -> None:
        for folder in env.paths:
            try:
                entries = sorted(e.name for e in folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.endswith((".dist-info", ".egg-info")) and (folder / entry).is_dir():
                    self._load_dist(env, folder, folder / entry)

    def _load_dist(self, env: Environment, site: Path, meta: Path) -> None:
        meta_file = meta / ("METADATA" if meta.suffix == ".dist-info" else "PKG-INFO")
        from email.parser import HeaderParser

        try:
            headers = HeaderParser().parsestr(
                meta_file.read_text(encoding="utf-8", errors="replace")
            )
        except OSError:
            return
        name, version = headers.get("Name"), headers.get("Version")
        if not name or not version:
            return
        key = canonical_name(name)
        if key in self.pip_by_name:  # shadowed by an earlier path entry
            return
        files = self._dist_files(site, meta)
        record = "RECORD" if meta.suffix == ".dist-info" else "installed-files.txt"
        evidence = f"{record} of {meta.name}"
        came = origin(meta, env.prefix)
        folder = came.folder
        if folder:
            evidence = f"{came.how} {folder} ({meta.name})"
        elif came.how:
            evidence = came.how
        owner = Owner(
            "pip",
            name,
            version,
            evidence,
            metadata_dir=norm(meta),
            source=folder,
            direct=came.direct,
        )
        if folder:
            self.sources.append((norm(folder) + os.sep, owner))
        self.pip_by_name[key] = owner
        for file in files:
            self.pip_files[file] = owner
        try:
            tops = (meta / "top_level.txt").read_text(encoding="utf-8").split()
        except OSError:
            tops = []
        for top in tops:
            self.pip_tops.setdefault(top, []).append(owner)

    @staticmethod
    def _dist_files(site: Path, meta: Path) -> list[str]:
        base = site.resolve()
        if meta.suffix == ".dist-info":
            import csv

            try:
                with (meta / "RECORD").open(encoding="utf-8", newline="") as record:
                    rows = [row[0] for row in csv.reader(record) if row]
            except OSError:
                return []
        else:
            try:
                rows = (meta / "installed-files.txt").read_text(encoding="utf-8").splitlines()
            except OSError:
                return []
            base = meta.resolve()
        return [
            os.path.normcase(os.path.normpath(base / row))
            for row in _lookup_files(r for r in rows if r.strip())
        ]

"""Which installed package provides an imported module, from installed metadata only.

Nothing is imported: a module is located on the environment's search path the way the
import system would find it (package directory, module file, extension module, namespace
portions), and the file found is looked up in the file lists of what is installed:

- conda packages: ``<prefix>/conda-meta/*.json`` (``name``, ``version``, ``build``,
  ``channel``, ``files``); the conda package that owns a file wins over the
  distribution metadata conda also installs, unless pip has since replaced it;
- Python distributions: ``*.dist-info/RECORD`` (or ``installed-files.txt`` of an
  ``.egg-info``), with ``top_level.txt`` for distributions that list no files.

So renames (``yaml`` from PyYAML, ``sklearn`` from scikit-learn) and namespace packages
(``google.protobuf`` from protobuf) come out of the metadata, with no built-in table.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from poncho_analyze._log import get_logger
from poncho_analyze.errors import AnalyzeError

__all__ = ["Environment", "Mapper", "Owner", "Resolution", "normalize_channel"]

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
_MODULE_SUFFIXES = (".py", ".pyc", ".pyd", ".so")
_INFO_CODE = """\
import json, sys
print(json.dumps({
    "prefix": sys.prefix, "base_prefix": sys.base_prefix, "path": sys.path,
    "version": ".".join(map(str, sys.version_info[:3])),
    "stdlib": sorted(getattr(sys, "stdlib_module_names", ())),
}))
"""


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


def _executable(given: str) -> str:
    """The absolute path of the interpreter *given*, as a shell would find it; the probe
    runs in another folder, so a relative path would name another file there.  Links are
    kept: a virtual environment's python is a link, and its environment is where it is."""
    if os.sep in given or (os.altsep and os.altsep in given):
        path = Path(given).absolute()
        if path.is_dir():
            problem = "a folder, not a Python executable"
        elif not path.exists():
            problem = "no such file"
        elif not os.access(path, os.X_OK):
            problem = "not executable"
        else:
            return str(path)
    else:
        import shutil

        found = shutil.which(given)
        if found is not None:
            return str(Path(found).absolute())
        problem = "not found on PATH"
        if Path(given).exists():
            problem += f" (write ./{given} for the one in the current folder)"
    raise AnalyzeError(f"cannot inspect the interpreter {given}: {problem}")


@dataclass(frozen=True)
class Environment:
    """A Python environment to inspect: its prefix, module search path and version.

    ``stdlib`` holds the interpreter's ``sys.stdlib_module_names`` (empty when unknown).
    """

    prefix: Path
    paths: tuple[Path, ...]
    python_version: str
    stdlib: frozenset[str] = frozenset()
    base_prefix: Path | None = None
    executable: Path | None = None

    @classmethod
    def current(cls) -> Environment:
        """The running interpreter's environment (``sys.prefix``, ``sys.path``)."""
        return cls._from_info(
            sys.prefix,
            sys.base_prefix,
            sys.path,
            ".".join(map(str, sys.version_info[:3])),
            sys.stdlib_module_names,
            sys.executable,
        )

    @classmethod
    def from_python(cls, executable: str | os.PathLike[str]) -> Environment:
        """The environment of another interpreter, asked with a subprocess (it imports
        only ``sys`` and ``json``, from an empty folder).

        A path (``env/bin/python``) is taken relative to the current folder, a bare name
        (``python3``) is looked up on ``PATH``."""
        given = os.fspath(executable)
        exe = _executable(given)
        from poncho_analyze import _cache

        info = _cache.load_interpreter(exe)
        if info is None:
            info = cls._probe(given, exe)
            _cache.store_interpreter(exe, info)
        return cls._from_info(
            info["prefix"], info["base_prefix"], info["path"], info["version"], info["stdlib"], exe
        )

    @staticmethod
    def _probe(given: str, exe: str) -> dict[str, Any]:
        import subprocess
        import tempfile

        try:
            with tempfile.TemporaryDirectory(prefix="poncho-analyze-") as empty:
                out = subprocess.run(
                    [exe, "-c", _INFO_CODE],
                    cwd=empty,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=60,
                )
            info = json.loads(out.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise AnalyzeError(f"cannot inspect the interpreter {given}: {detail}") from exc
        if not isinstance(info, dict):
            raise AnalyzeError(f"cannot inspect the interpreter {given}: unexpected answer")
        return info

    @classmethod
    def _from_info(
        cls,
        prefix: str,
        base_prefix: str,
        path: Iterable[str],
        version: str,
        stdlib: Iterable[str],
        executable: str,
    ) -> Environment:
        paths = tuple(dict.fromkeys(Path(p) for p in path if p and Path(p).is_dir()))
        return cls(
            Path(prefix), paths, version, frozenset(stdlib), Path(base_prefix), Path(executable)
        )

    def conda_prefixes(self) -> list[Path]:
        """The prefixes (own, then base) that hold a ``conda-meta`` folder."""
        seen = []
        for prefix in (self.prefix, self.base_prefix):
            if prefix is not None and (prefix / "conda-meta").is_dir() and prefix not in seen:
                seen.append(prefix)
        return seen


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

    def requirement(self, *, build: bool = False, extras: Sequence[str] = ()) -> str:
        """``name=version[=build]`` for conda, ``Name[extras]==version`` for pip, the
        source folder for a project installed from a local folder."""
        if self.source:
            return self.source
        if self.kind == "conda":
            pin = f"{self.name}={self.version}"
            return f"{pin}={self.build}" if build and self.build else pin
        extra = f"[{','.join(sorted(extras))}]" if extras else ""
        return f"{self.name}{extra}=={self.version}"


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
            if entry.endswith(_MODULE_SUFFIXES) and (
                rest in _MODULE_SUFFIXES or rest.count(".") == 2
            ):
                return _Found("module", folder / entry)
        if is_dir:
            portions.append(candidate)
    if portions:
        return _Found("namespace", None, tuple(portions))
    return None


def _local_source(meta: Path, prefix: Path) -> tuple[str, str]:
    """The local folder a distribution was installed from, and how: from PEP 610's
    ``direct_url.json`` (``pip install [-e] ./folder``), or an ``.egg-info`` outside the
    environment (``setup.py develop``).  ``("", "")`` for anything else."""
    if meta.suffix == ".dist-info":
        try:
            data = json.loads((meta / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "", ""
        url = data.get("url") if isinstance(data, dict) else None
        info = data.get("dir_info") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url.startswith("file:") or not isinstance(info, dict):
            return "", ""
        from urllib.parse import unquote, urlsplit

        how = "editable install of" if info.get("editable") else "installed from the folder"
        return unquote(urlsplit(url).path), how
    try:
        meta.resolve().relative_to(prefix.resolve())
        return "", ""
    except ValueError:
        pass
    for project in (meta.parent, meta.parent.parent):
        if any((project / f).is_file() for f in ("setup.py", "pyproject.toml", "setup.cfg")):
            return str(project), "development install (setup.py develop) of"
    return "", ""


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
            f.endswith(_MODULE_SUFFIXES)
            and "/__pycache__/" not in f
            and (
                f.rpartition("/")[0] not in packages
                or f.endswith(("/__init__.py", "/__init__.pyc"))
            )
        )
    ]


def _norm(path: Path | str) -> str:
    return os.path.normcase(os.path.realpath(path))


class Mapper:
    """Maps imports and package names to what is installed in an :class:`Environment`."""

    def __init__(self, env: Environment, *, cache: bool = True) -> None:
        self.env = env
        self._conda_files: dict[str, Owner] = {}
        self._conda_by_name: dict[str, Owner] = {}
        self._pip_files: dict[str, Owner] = {}
        self._pip_by_name: dict[str, Owner] = {}
        self._pip_tops: dict[str, list[Owner]] = {}
        self._sources: list[tuple[str, Owner]] = []
        self.listings: dict[Path, frozenset[str]] = {}
        """Folder listings read so far (a Mapper serves one analysis)."""
        from poncho_analyze import _cache

        data = _cache.load(env) if cache else None
        if data is not None:
            self._restore(data)
            return
        stamp = _cache.stamp(env)
        self._load_conda()
        self._load_pip()
        if cache:
            _cache.store(env, self._dump(), stamp)

    # -- the cached form: owners once, then indexes into them ---------------------------

    def _dump(self) -> dict[str, Any]:
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
                    )
                )
            return index[owner]

        return {
            "conda_files": {k: at(o) for k, o in self._conda_files.items()},
            "conda_by_name": {k: at(o) for k, o in self._conda_by_name.items()},
            "pip_files": {k: at(o) for k, o in self._pip_files.items()},
            "pip_by_name": {k: at(o) for k, o in self._pip_by_name.items()},
            "pip_tops": {k: [at(o) for o in v] for k, v in self._pip_tops.items()},
            "sources": [(k, at(o)) for k, o in self._sources],
            "owners": owners,
        }

    def _restore(self, data: dict[str, Any]) -> None:
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
            )
            for kind, name, version, evidence, build, channel, meta, source in data["owners"]
        ]
        self._conda_files = {k: owners[i] for k, i in data["conda_files"].items()}
        self._conda_by_name = {k: owners[i] for k, i in data["conda_by_name"].items()}
        self._pip_files = {k: owners[i] for k, i in data["pip_files"].items()}
        self._pip_by_name = {k: owners[i] for k, i in data["pip_by_name"].items()}
        self._pip_tops = {k: [owners[i] for i in v] for k, v in data["pip_tops"].items()}
        self._sources = [(k, owners[i]) for k, i in data["sources"]]

    @property
    def is_conda(self) -> bool:
        """Whether the environment is a conda environment (it has conda-meta records)."""
        return bool(self._conda_by_name)

    def conda_package(self, name: str) -> Owner | None:
        """The conda package *name* installed in the environment, if any."""
        return self._conda_by_name.get(name.lower())

    def by_name(self, name: str) -> Owner | None:
        """The package called *name*: a conda package, else a pip distribution."""
        return self._conda_by_name.get(name.lower()) or self._pip_by_name.get(canonical_name(name))

    # -- loading ------------------------------------------------------------------------

    def _load_conda(self) -> None:
        for prefix in self.env.conda_prefixes():
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
                self._conda_by_name.setdefault(name.lower(), owner)
                root = prefix.resolve()
                files = [
                    r
                    for r in record.get("files") or ()
                    if isinstance(r, str) and "site-packages/" in r
                ]
                for rel in _lookup_files(files):
                    self._conda_files[_norm(root / rel)] = owner

    def _load_pip(self) -> None:
        for folder in self.env.paths:
            try:
                entries = sorted(e.name for e in folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.endswith((".dist-info", ".egg-info")) and (folder / entry).is_dir():
                    self._load_dist(folder, folder / entry)

    def _load_dist(self, site: Path, meta: Path) -> None:
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
        if key in self._pip_by_name:  # shadowed by an earlier path entry
            return
        files = self._dist_files(site, meta)
        record = "RECORD" if meta.suffix == ".dist-info" else "installed-files.txt"
        evidence = f"{record} of {meta.name}"
        folder, how = _local_source(meta, self.env.prefix)
        if folder:
            evidence = f"{how} {folder} ({meta.name})"
        owner = Owner("pip", name, version, evidence, metadata_dir=_norm(meta), source=folder)
        if folder:
            self._sources.append((_norm(folder) + os.sep, owner))
        self._pip_by_name[key] = owner
        for file in files:
            self._pip_files[file] = owner
        try:
            tops = (meta / "top_level.txt").read_text(encoding="utf-8").split()
        except OSError:
            tops = []
        for top in tops:
            self._pip_tops.setdefault(top, []).append(owner)

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

    # -- lookups ------------------------------------------------------------------------

    def _file_owner(self, file: Path) -> Owner | None:
        key = _norm(file)
        conda = self._conda_files.get(key)
        pip = self._pip_files.get(key)
        if conda is not None and pip is not None:
            # conda installs the distribution's metadata too; if pip replaced the
            # package, the new dist-info is not a conda file.
            if str(Path(pip.metadata_dir) / "METADATA") in self._conda_files:
                return conda
            return pip
        return conda or pip

    def _folder_owners(self, folders: Iterable[Path]) -> list[Owner]:
        prefixes = tuple(_norm(f) + os.sep for f in folders)
        owners: dict[tuple[str, str], Owner] = {}
        for files in (self._conda_files, self._pip_files):
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
            tops = self._pip_tops.get(top, [])
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
            key = _norm(found.file)
            inside = [(len(f), o) for f, o in self._sources if key.startswith(f)]
            if inside:
                owner = max(inside, key=lambda pair: pair[0])[1]
        if owner is None:
            tops = self._pip_tops.get(name.split(".")[0], [])
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

"""Editable pip installs in an existing environment: what each one is made of.

An editable install leaves in site-packages only pointers to its source folder: a PEP 660
install a ``.dist-info`` whose ``direct_url.json`` says ``dir_info.editable``, with a
``.pth`` file (a path line, or an ``import`` of a finder module such as setuptools'
``__editable___NAME_finder.py``, whose ``MAPPING`` names each top-level package's folder);
``setup.py develop`` (and ``pip install -e`` with an old setuptools) a ``NAME.egg-link``
file and a line in ``easy-install.pth``, its metadata in ``NAME.egg-info`` in the source
folder. Here we read them (`from_dist_info`, `from_egg_link`): where the source is, which
files of the environment are pointers (left out of a tarball), which are its scripts (kept),
and what the pointers put on ``sys.path`` (`EditableInstall.path_entries`,
`EditableInstall.mapping`), for when no wheel of the source can be built. Nothing here
writes anything.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from poncho_create.errors import CreateError
from poncho_create.pip_sources import url_to_path

__all__ = [
    "EditableInstall",
    "EditablePackages",
    "easy_install_pth",
    "egg_links",
    "from_dist_info",
    "from_egg_link",
    "header_value",
    "orphan_editable_files",
    "read_text",
]

log = logging.getLogger(__name__)

_IMPORT_LINE = re.compile(r"^\s*import\s+([A-Za-z_][\w.]*)")


class EditablePackages(CreateError):
    """The environment has editable pip installs that cannot be packed; the message names
    them."""


@dataclass(frozen=True)
class EditableInstall:
    """One editable install in the environment at `prefix`."""

    name: str
    version: str
    source: Path  # the project folder (where pyproject.toml or setup.py is)
    site_packages: Path  # the site-packages folder it is installed into
    metadata: Path  # its .dist-info (PEP 660) or .egg-info (legacy, in the source folder)
    env_files: tuple[str, ...]  # prefix-relative pointer files: never packed
    scripts: tuple[str, ...]  # prefix-relative files outside site-packages it installed (bin/)
    path_entries: tuple[Path, ...] = ()  # folders its .pth files put on sys.path
    mapping: Mapping[str, Path] = field(default_factory=dict)  # finder: top-level -> path
    requested: bool = False  # pip's REQUESTED marker (installed by name, not as a dependency)
    installer: str = "pip"

    def top_level_names(self) -> list[str]:
        """The top-level import names it provides, as its metadata lists them
        (``top_level.txt``), else its name as a module name."""
        try:
            text = (self.metadata / "top_level.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        names = [line.strip() for line in text.splitlines() if line.strip()]
        return names or [re.sub(r"[-.]+", "_", self.name)]


def from_dist_info(
    prefix: Path, name: str, version: str, dist_info: Path, files: Collection[str], url: str
) -> EditableInstall:
    """A PEP 660 editable install: its ``.dist-info``, the prefix-relative `files` its
    RECORD lists and the ``file:`` `url` of its source (``direct_url.json``).

    Raises EditablePackages when its source folder is gone (the install is broken already).
    """
    source = url_to_path(url) if url.startswith("file:") else None
    if source is None or not source.is_dir():
        raise EditablePackages(
            f"{dist_info}: {name} is an editable install of {url or 'an unknown folder'}, "
            "which does not exist: install it again, or pass --ignore-editable-packages to "
            "leave it out"
        )
    site = dist_info.parent
    site_rel = str(site.relative_to(prefix))
    pointers = [f for f in files if f.startswith(site_rel + "/")]
    pointers += [str(p.relative_to(prefix)) for p in dist_info.rglob("*") if p.is_file()]
    entries: list[Path] = []
    mapping: dict[str, Path] = {}
    for rel in files:
        if rel.endswith(".pth") and rel.startswith(site_rel + "/"):
            paths, finders = _read_pth(prefix / rel)
            entries += paths
            for module in finders:
                mapping.update(_finder_mapping(site / (module.replace(".", "/") + ".py")))
    scripts = tuple(f for f in files if not f.startswith(site_rel + "/"))
    return EditableInstall(
        name=name,
        version=version,
        source=source,
        site_packages=site,
        metadata=dist_info,
        env_files=tuple(sorted(set(pointers) | set(_pycache_of(prefix, pointers)))),
        scripts=scripts,
        path_entries=tuple(entries),
        mapping=mapping,
        requested=(dist_info / "REQUESTED").exists(),
        installer=read_text(dist_info / "INSTALLER").strip() or "pip",
    )


def egg_links(prefix: Path) -> list[Path]:
    """``setup.py develop`` installs: the ``*.egg-link`` files in site-packages."""
    return sorted(prefix.glob("lib/python*/site-packages/*.egg-link"))


def from_egg_link(prefix: Path, egg_link: Path) -> EditableInstall:
    """A ``setup.py develop`` install, from its ``.egg-link``: the first line is the folder
    put on ``sys.path`` (the ``.egg-info`` is there), the second the project folder
    relative to it. The scripts it installed are the ``bin/`` files its entry points name.

    Raises EditablePackages when the folder or its ``.egg-info`` is gone.
    """
    lines = read_text(egg_link).splitlines()
    entry = Path(lines[0].strip()) if lines and lines[0].strip() else None
    project = (entry / (lines[1].strip() if len(lines) > 1 else ".")) if entry else None
    egg_info = _egg_info(entry, egg_link.stem) if entry is not None else None
    if entry is None or project is None or egg_info is None or not project.is_dir():
        raise EditablePackages(
            f"{egg_link}: an editable install (setup.py develop) of "
            f"{entry or 'an unknown folder'}, whose folder or .egg-info does not exist: "
            "install it again, or pass --ignore-editable-packages to leave it out"
        )
    meta = read_text(egg_info / "PKG-INFO")
    name = header_value(meta, "Name") or egg_link.stem
    version = header_value(meta, "Version") or "0"
    scripts = [f"bin/{s}" for s in entry_point_scripts(egg_info) if (prefix / "bin" / s).exists()]
    return EditableInstall(
        name=name,
        version=version,
        source=project.resolve(),
        site_packages=egg_link.parent,
        metadata=egg_info,
        env_files=(str(egg_link.relative_to(prefix)),),
        scripts=tuple(scripts),
        path_entries=(entry,),
        requested=True,
    )


def entry_point_scripts(metadata: Path) -> list[str]:
    """The names of the console and GUI scripts ``entry_points.txt`` in `metadata` declares."""
    import configparser

    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(read_text(metadata / "entry_points.txt"))
    except configparser.Error:
        return []
    return sorted(
        name.strip()
        for section in ("console_scripts", "gui_scripts")
        if parser.has_section(section)
        for name in parser.options(section)
    )


def easy_install_pth(prefix: Path, dropped: Iterable[Path]) -> tuple[str, str | None] | None:
    """``easy-install.pth`` without the lines that name one of `dropped` (the folders of
    ``setup.py develop`` installs): (its prefix-relative path, the new text, None when no
    line is left); None when there is no such file or it names none of them."""
    gone = {p.resolve() for p in dropped}
    for pth in sorted(prefix.glob("lib/python*/site-packages/easy-install.pth")):
        lines = read_text(pth).splitlines(keepends=True)
        kept = [
            line
            for line in lines
            if not line.strip()
            or line.lstrip().startswith(("#", "import "))
            or (pth.parent / line.strip()).resolve() not in gone
        ]
        if len(kept) != len(lines):
            rel = str(pth.relative_to(prefix))
            if not any(
                line.strip() and not line.lstrip().startswith(("#", "import ")) for line in kept
            ):
                return rel, None
            return rel, "".join(kept)
    return None


def orphan_editable_files(prefix: Path, claimed: Collection[str]) -> list[str]:
    """``__editable__*`` files in site-packages no installed distribution claims (left by a
    removed editable install): prefix-relative paths."""
    found = prefix.glob("lib/python*/site-packages/__editable__*")
    return sorted(
        rel for rel in (str(p.relative_to(prefix)) for p in found if p.is_file())
        if rel not in claimed
    )  # fmt: skip


def _read_pth(path: Path) -> tuple[list[Path], list[str]]:
    """The folders a .pth file adds to sys.path, and the modules its import lines name."""
    paths: list[Path] = []
    modules: list[str] = []
    for line in read_text(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _IMPORT_LINE.match(line)
        if match:
            modules.append(match.group(1))
        elif (path.parent / line).is_dir():
            paths.append((path.parent / line).resolve())
    return paths, modules


def _finder_mapping(finder: Path) -> dict[str, Path]:
    """setuptools' finder module: its ``MAPPING`` of top-level names to their folders (or
    module files), read without importing it."""
    try:
        tree = ast.parse(read_text(finder))
    except SyntaxError:
        return {}
    for node in tree.body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "MAPPING" and value is not None:
            try:
                mapping = ast.literal_eval(value)
            except ValueError:
                return {}
            if isinstance(mapping, dict):
                return {str(k): Path(str(v)) for k, v in mapping.items()}
    return {}


def _pycache_of(prefix: Path, files: Iterable[str]) -> list[str]:
    """The bytecode Python wrote for the .py files among `files` (prefix-relative)."""
    out = []
    for rel in files:
        if rel.endswith(".py"):
            py = prefix / rel
            for pyc in py.parent.glob(f"__pycache__/{py.stem}.*.pyc"):
                out.append(str(pyc.relative_to(prefix)))
    return out


def _egg_info(entry: Path, stem: str) -> Path | None:
    wanted = re.sub(r"[-_.]+", "_", stem).lower()
    for candidate in sorted(entry.glob("*.egg-info")):
        name = candidate.name[: -len(".egg-info")].split("-")[0]
        if re.sub(r"[-_.]+", "_", name).lower() == wanted and candidate.is_dir():
            return candidate
    return None


def header_value(text: str, key: str) -> str:
    """The value of header `key` in metadata `text` (``PKG-INFO``, ``METADATA``); "" if none."""
    match = re.search(rf"^{key}:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def read_text(path: Path) -> str:
    """The text of `path`; "" when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""

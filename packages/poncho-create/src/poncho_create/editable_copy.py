"""An editable install packed as a regular installed copy of its current source.

For each editable install (`poncho_create.editable`) the tarball gets what installing its
source without ``-e`` would place: the package's files in site-packages, a regular
``.dist-info`` (its metadata; ``INSTALLER``; a ``RECORD`` of the files packed;
``direct_url.json`` recording the source folder as a non-editable local install does, PEP
610's ``dir_info`` without ``editable``), its scripts in ``bin/`` (the environment's own, a
wrapper for a console script the environment does not have yet); and none of the pointers
(``.pth``, finder, ``.egg-link``, ``easy-install.pth`` line).

The files come from a wheel of the source built by the environment's pip
(`poncho_create.editable_wheel`); when none can be built (no build backend in the
environment, offline), from the source folders the install's pointers name, copied as they
are (without bytecode and ``*.egg-info``), with the install's own metadata. Everything is
written into a work folder and handed to the packer as extra files: the environment is never
written to. The lock records each as a ``path`` source with its folder's content digest.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from poncho_create.editable import (
    EditableInstall,
    EditablePackages,
    easy_install_pth,
    entry_point_scripts,
    header_value,
    orphan_editable_files,
    read_text,
)
from poncho_create.editable_wheel import build_wheel, lay_out_wheel
from poncho_create.local_inputs import content_digest
from poncho_create.lock import PipLockEntry
from poncho_create.progress import Reporter

__all__ = ["EditablePlan", "PackedCopy", "pack_editables", "packed_copy"]

log = logging.getLogger(__name__)

_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
_REGENERATED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


@dataclass(frozen=True)
class PackedCopy:
    """The installed copy of one editable install, laid out in a work folder."""

    name: str
    version: str
    files: dict[str, Path]  # prefix-relative path -> the file in the work folder
    from_wheel: bool  # built as a wheel (else its source folders copied as they are)


@dataclass
class EditablePlan:
    """What packing the editable installs changes: prefix files left out, files added
    (replacing a prefix file of the same path), and their lock entries."""

    exclude: set[str] = field(default_factory=set)
    extra: dict[str, Path] = field(default_factory=dict)
    pip: list[PipLockEntry] = field(default_factory=list)


def pack_editables(
    prefix: Path, installs: Sequence[EditableInstall], work: Path, report: Reporter
) -> EditablePlan:
    """The plan that packs each of `installs` as an installed copy of its current source
    (files laid out under `work`), drops the pointers of ``setup.py develop`` installs from
    ``easy-install.pth`` and leaves out ``__editable__`` files no distribution claims."""
    plan = EditablePlan()
    for number, install in enumerate(installs):
        digest = content_digest(install.source)  # before a backend may write there
        copy = packed_copy(prefix, install, work / f"editable-{number}", report)
        how = "a wheel of" if copy.from_wheel else "the folders of"
        log.info("packing the editable %s %s from %s %s",
                 copy.name, copy.version, how, install.source)  # fmt: skip
        plan.exclude.update(install.env_files)
        plan.extra.update(copy.files)
        url = install.source.as_uri()
        plan.pip.append(PipLockEntry(copy.name, copy.version, digest, "path", url))
    legacy = [e for i in installs if i.metadata.suffix == ".egg-info" for e in i.path_entries]
    filter_easy_install(prefix, legacy, work, plan)
    orphans = orphan_editable_files(prefix, plan.exclude)
    if orphans:
        log.warning("leaving out %s: left by editable installs that are gone", ", ".join(orphans))
        plan.exclude.update(orphans)
    return plan


def filter_easy_install(
    prefix: Path, dropped: Iterable[Path], work: Path, plan: EditablePlan
) -> None:
    """Pack ``easy-install.pth`` without its lines naming `dropped` folders (or leave it out
    when none is left)."""
    found = easy_install_pth(prefix, dropped)
    if found is None:
        return
    rel, text = found
    if text is None:
        plan.exclude.add(rel)
        return
    work.mkdir(parents=True, exist_ok=True)
    (work / "easy-install.pth").write_text(text, encoding="utf-8")
    plan.extra[rel] = work / "easy-install.pth"


def packed_copy(prefix: Path, install: EditableInstall, work: Path, report: Reporter) -> PackedCopy:
    """Lay out the installed copy of `install`'s current source under ``work/tree``.

    Raises EditablePackages when neither a wheel can be built nor the source folders found.
    """
    tree = work / "tree"
    tree.mkdir(parents=True)
    site = str(install.site_packages.relative_to(prefix))
    wheel = build_wheel(prefix, install.source, work, report)
    if wheel is not None:
        dist_info = tree / lay_out_wheel(wheel, tree, site, prefix)
    else:
        dist_info = _copy_sources(install, tree / site)
    name, version = _name_version(dist_info / "METADATA", install)
    (dist_info / "INSTALLER").write_text(install.installer + "\n", encoding="utf-8")
    if install.requested:
        (dist_info / "REQUESTED").write_text("", encoding="utf-8")
    direct_url = {"url": install.source.as_uri(), "dir_info": {}}
    (dist_info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    _console_scripts(dist_info, prefix, tree)
    files = {str(p.relative_to(tree)): p for p in sorted(tree.rglob("*")) if p.is_file()}
    scripts = {s: prefix / s for s in install.scripts if (prefix / s).is_file()}
    _write_record(dist_info, tree / site, {**scripts, **files}, tree)
    files[str((dist_info / "RECORD").relative_to(tree))] = dist_info / "RECORD"
    return PackedCopy(name, version, files, wheel is not None)


def _copy_sources(install: EditableInstall, site: Path) -> Path:
    """The fallback: the top-level packages and modules the install's finder maps or its
    ``.pth`` folders hold, copied; its metadata as a ``.dist-info``. Returns that folder."""
    found: dict[str, Path] = {}
    for path in install.mapping.values():
        if path.exists():
            found[path.name] = path
    for entry in install.path_entries:
        for top in install.top_level_names():
            for candidate in (entry / top, entry / f"{top}.py", *entry.glob(f"{top}.*.so")):
                if candidate.exists():
                    found.setdefault(candidate.name, candidate)
    if not found:
        raise EditablePackages(
            f"{install.name}: no wheel of {install.source} could be built and its package "
            "folders are not known: install it without -e, or pass "
            "--ignore-editable-packages to leave it out"
        )
    log.warning(
        "packing the source folders of %s as they are: %s",
        install.name, ", ".join(str(p) for p in found.values()),
    )  # fmt: skip
    site.mkdir(parents=True, exist_ok=True)
    for name, path in sorted(found.items()):
        if path.is_dir():
            shutil.copytree(path, site / name, ignore=_NOT_COPIED)
        else:
            shutil.copy2(path, site / name)
    return _dist_info_from(install, site)


def _dist_info_from(install: EditableInstall, site: Path) -> Path:
    meta = install.metadata
    if meta.suffix == ".dist-info":
        dist_info = site / meta.name
        shutil.copytree(meta, dist_info, ignore=lambda _d, names: _REGENERATED & set(names))
        return dist_info
    # A .egg-info: the same metadata under the names a .dist-info gives it.
    stem = re.sub(r"[-_.]+", "_", install.name)
    dist_info = site / f"{stem}-{install.version}.dist-info"
    dist_info.mkdir()
    shutil.copyfile(meta / "PKG-INFO", dist_info / "METADATA")
    for name in ("entry_points.txt", "top_level.txt"):
        if (meta / name).is_file():
            shutil.copyfile(meta / name, dist_info / name)
    (dist_info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: poncho-create\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        encoding="utf-8",
    )
    return dist_info


def _console_scripts(dist_info: Path, prefix: Path, tree: Path) -> None:
    """A wrapper, as pip writes one, for each console or GUI script whose entry point the
    copy declares and neither the environment's ``bin/`` nor the copy holds."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string((dist_info / "entry_points.txt").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return
    for name in entry_point_scripts(dist_info):
        if (prefix / "bin" / name).exists() or (tree / "bin" / name).exists():
            continue
        section = "console_scripts" if parser.has_option("console_scripts", name) else "gui_scripts"
        value = parser.get(section, name).split("[", 1)[0].strip()
        module, _, attr = (part.strip() for part in value.partition(":"))
        if not module or not attr:
            continue  # not an entry point a script can call
        script = tree / "bin" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            "#!/usr/bin/env python\nimport re\nimport sys\n"
            f"from {module} import {attr.split('.', 1)[0]}\n"
            "if __name__ == '__main__':\n"
            "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
            f"    sys.exit({attr}())\n",
            encoding="utf-8",
        )
        script.chmod(0o755)


def _write_record(dist_info: Path, site: Path, files: dict[str, Path], tree: Path) -> None:
    """``RECORD``: each file's path relative to site-packages, sha256 and size."""
    site_rel = site.relative_to(tree)
    lines = []
    for rel, path in sorted(files.items()):
        data = path.read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{os.path.relpath(rel, site_rel)},sha256={digest},{len(data)}\n")
    record = dist_info / "RECORD"
    lines.append(f"{os.path.relpath(record.relative_to(tree), site_rel)},,\n")
    record.write_text("".join(lines), encoding="utf-8")


def _name_version(metadata: Path, install: EditableInstall) -> tuple[str, str]:
    text = read_text(metadata)
    name, version = header_value(text, "Name"), header_value(text, "Version")
    return name or install.name, version or install.version

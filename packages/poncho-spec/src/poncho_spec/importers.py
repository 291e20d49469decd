"""Specs from the files users already have: pip's ``requirements.txt`` and conda's
``environment.yml``.

Requirements files are read with pip-requirements-parser, as pip reads them (``-r``
includes, markers, ``--hash``, index options, line continuations). What a spec can say is
converted: requirements (markers kept), local paths (``-e PATH`` becomes ``PATH``: the
environment holds a copy), ``name @ URL``. What only changes where or how pip downloads
(``--index-url``, ``--find-links``, ``--hash``, ``--only-binary``, ...) becomes a note naming
the line and what to use instead; what would change what is installed and cannot be said in
a spec (constraint files, invalid lines, editable VCS checkouts) is an error naming the line,
all of them at once. A requirements file has no conda part: ``python=X.Y`` (this
interpreter's, or `python_version`) and ``pip`` are added.

``environment.yml``: ``channels`` and ``dependencies`` (with their ``pip:`` list, read as
requirement lines) are kept; ``name``, ``prefix`` and ``variables`` are not part of an
environment's content and are noted; ``nodefaults`` is dropped (Poncho never adds channels).

Needs the ``import`` extra (``pip install poncho-spec[import]``).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_spec._reqlines import TEMP_PREFIX, explain_pip_line, from_text, option_note
from poncho_spec.errors import InvalidSpec, PonchoError, Problem
from poncho_spec.model import Spec

__all__ = ["ImportResult", "MissingExtra", "explain_pip_line", "import_file", "is_importable"]

_YAML_ENDINGS = (".yml", ".yaml")
_TXT_ENDINGS = (".txt", ".in")
_ENV_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
_SPEC_KEYS = frozenset({"conda", "pip", "git", "http", "pinned"})


class MissingExtra(PonchoError, ImportError):
    """The ``import`` extra (pip-requirements-parser, ruamel.yaml) is not installed."""


@dataclass
class ImportResult:
    """The spec made from a file, and notes about what was not carried over (each naming
    the file and line)."""

    spec: Spec
    notes: list[str] = field(default_factory=list)


def is_importable(path: str | os.PathLike[str]) -> bool:
    """True for file names this module converts (``*.txt``, ``*.in``, ``*.yml``, ``*.yaml``)."""
    return os.fspath(path).lower().endswith(_YAML_ENDINGS + _TXT_ENDINGS)


def import_file(
    path: str | os.PathLike[str],
    *,
    python_version: str | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> ImportResult:
    """Convert a requirements file or a conda environment file into a spec.

    Local paths are written relative to `folder`, the folder the spec will be read from
    (default: the file's own), as poncho-create reads a spec's paths.

    Raises InvalidSpec listing every line that cannot be converted (and every problem of
    the resulting spec), SpecNotFound-like errors for a missing file, MissingExtra.
    """
    file = Path(path)
    if not file.is_file():
        from poncho_spec.errors import SpecNotFound

        raise SpecNotFound(os.fspath(path))
    head = file.read_bytes()[:4096].decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        # A Poncho spec (JSON) under another name: Parsl's TaskVine executor writes the spec
        # of poncho_package_analyze to a .yaml file.
        from poncho_spec.io import load_spec

        return ImportResult(load_spec(file))
    dest = Path(folder).resolve() if folder is not None else file.resolve().parent
    if file.name.lower().endswith(_YAML_ENDINGS):
        return _environment_file(file, dest)
    return _requirements_file(file, python_version, dest)


def _requirements_file(file: Path, python_version: str | None, dest: Path) -> ImportResult:
    notes: list[str] = []
    problems: list[Problem] = []
    pip = _rebase(_requirements(file, None, notes, problems), file.resolve().parent, dest)
    version = python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
    notes.append(
        f"{file}: conda part added: python={version} and pip (a requirements file names no Python)"
    )
    data = {"conda": {"dependencies": [f"python={version}", "pip", {"pip": pip}]}}
    return ImportResult(_build(data, file, problems, dest), notes)


def _environment_file(file: Path, dest: Path) -> ImportResult:
    yaml = _module("ruamel.yaml")
    try:
        data = yaml.YAML(typ="safe", pure=True).load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidSpec([Problem("", f"not a readable YAML file: {exc}")], str(file)) from None
    if not isinstance(data, dict):
        raise InvalidSpec([Problem("", "an environment file is a YAML mapping")], str(file))
    if _SPEC_KEYS & set(data):  # a Poncho spec written in YAML
        return ImportResult(Spec.from_dict(data, source=str(file), base_dir=file.resolve().parent))
    notes: list[str] = []
    problems: list[Problem] = []
    for key in data:
        if key not in _ENV_KEYS:
            problems.append(
                Problem(
                    str(key),
                    "unknown key (expected one of " + ", ".join(map(repr, _ENV_KEYS)) + ")",
                )
            )
    for key in ("name", "prefix", "variables"):
        if key in data:
            notes.append(f"{file}: {key}: not part of the environment's content, left out")
    channels = data.get("channels") or []
    if not isinstance(channels, list):
        problems.append(Problem("channels", "must be a list"))
        channels = []
    if "nodefaults" in channels:
        notes.append(f"{file}: channels: nodefaults dropped (Poncho adds no channel)")
    dependencies: list[Any] = []
    pip: list[str] = []
    items = data.get("dependencies") or []
    if not isinstance(items, list):
        problems.append(Problem("dependencies", "must be a list"))
        items = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and set(item) == {"pip"} and isinstance(item["pip"], list):
            text = "\n".join(str(line) for line in item["pip"])
            pip += _requirements(file, text, notes, problems, where=f"dependencies[{index}].pip")
        else:
            dependencies.append(item)  # checked by the spec validation
    if pip:
        dependencies.append({"pip": _rebase(pip, file.resolve().parent, dest)})
    spec = {
        "conda": {
            "channels": [c for c in channels if c != "nodefaults"],
            "dependencies": dependencies,
        }
    }
    return ImportResult(_build(spec, file, problems, dest), notes)


def _requirements(
    file: Path,
    text: str | None,
    notes: list[str],
    problems: list[Problem],
    where: str = "",
) -> list[str]:
    """The spec's pip entries of a requirements file (or of `text`, lines in `file`)."""
    parser = _module("pip_requirements_parser")
    try:
        if text is None:
            parsed = parser.RequirementsFile.from_file(str(file.resolve()), include_nested=True)
        else:
            parsed = from_text(parser, text, file.resolve().parent)
    except parser.InstallationError as exc:
        problems.append(Problem(where, str(exc).replace("|n", ": ")))
        return []
    out: list[str] = []
    for option in parsed.options:
        line = _where(option.requirement_line, file, where)
        for key in option.options:
            if key in ("requirements", "constraints"):
                if key == "constraints":
                    why = "-c constraint files cannot be said in a spec: pin the versions"
                    problems.append(Problem(line, why))
                continue
            notes.append(f"{file.name}: {line}: {option_note(key)}")
    for invalid in parsed.invalid_lines:
        line = _where(invalid.requirement_line, file, where)
        reason = " ".join(str(invalid.error_message).split())
        problems.append(Problem(line, f"{invalid.requirement_line.line.strip()!r}: {reason}"))
    for req in parsed.requirements:
        line = _where(req.requirement_line, file, where)
        if req.is_constraint:
            continue  # reported with its -c line
        if req.hash_options:
            why = "not kept (the lock records the sha256 of every package installed)"
            notes.append(f"{file.name}: {line}: --hash: {why}")
        entry = _entry(req, line, notes, problems, Path(req.requirement_line.filename or file))
        if entry is not None:
            out.append(entry)
    return out


def _entry(
    req: Any, line: str, notes: list[str], problems: list[Problem], file: Path
) -> str | None:
    if req.is_editable and req.is_vcs_url:
        problems.append(
            Problem(
                line,
                f"{req.line!r}: an editable VCS checkout cannot be "
                "shipped; give name @ git+URL@COMMIT",
            )
        )
        return None
    if req.link is not None and req.is_local_path and not req.is_url:
        path = str(req.link.url if hasattr(req.link, "url") else req.link)
        if path.startswith("file:"):
            return path
        base = file.parent
        target = Path(path) if Path(path).is_absolute() else base / path
        if req.is_editable:
            why = "installed as a copy (the environment must hold it)"
            notes.append(f"{file.name}: {line}: -e {path}: {why}")
        rel = os.path.relpath(target, base)
        return rel if rel.startswith(("../", "/")) else "./" + rel
    if req.link is not None:  # a URL: name @ URL
        name = req.name or ""
        url = str(req.link.url if hasattr(req.link, "url") else req.link)
        if not name:
            problems.append(
                Problem(
                    line,
                    f"{req.line!r}: a URL without a package name "
                    "(add #egg=NAME or write NAME @ URL)",
                )
            )
            return None
        marker = f" ; {req.marker}" if req.marker else ""
        return f"{name} @ {url.split('#')[0]}{marker}"
    text = str(req.dumps_name()) + str(req.dumps_extras()) + str(req.dumps_specifier())
    if req.marker:
        text += f" ; {req.marker}"
    return text


def _where(requirement_line: Any, file: Path, where: str) -> str:
    """Where a line is, for messages: ``line 3`` of the file itself, ``base.txt:1`` in an
    included file, ``dependencies[2].pip, line 1`` in an environment file."""
    filename = Path(requirement_line.filename or file)
    name, number = filename.name, requirement_line.line_number
    if filename.parent.name.startswith(TEMP_PREFIX):
        return f"{where}, line {number}"
    if where or name != file.name:
        return f"{name}:{number}"
    return f"line {number}"


def _rebase(entries: list[str], source: Path, dest: Path) -> list[str]:
    """The relative path entries (``./x``, ``../x``), read from `source`, made relative to
    `dest`; absolute when no relative path leads there."""
    if source == dest:
        return entries
    out = []
    for entry in entries:
        if entry.startswith(("./", "../")):
            target = os.path.normpath(source / entry)
            try:
                rel = os.path.relpath(target, dest)
            except ValueError:  # another drive
                rel = target
            entry = rel if rel == "." or rel.startswith(("..", "/")) else "./" + rel
        out.append(entry)
    return out


def _build(data: dict[str, Any], file: Path, problems: list[Problem], base: Path) -> Spec:
    try:
        spec = Spec.from_dict(data, source=str(file), base_dir=base)
    except InvalidSpec as exc:
        raise InvalidSpec([*problems, *exc.problems], str(file)) from None
    if problems:
        raise InvalidSpec(problems, str(file))
    return spec


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MissingExtra(
            f"reading requirements and environment files needs {name}: "
            "pip install 'poncho-spec[import]'"
        ) from None

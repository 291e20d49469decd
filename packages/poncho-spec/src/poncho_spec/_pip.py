"""Pip entries: a PEP 508 requirement or a local path to a package; their normal form.

A local path starts with ``./``, ``../``, ``/``, ``~`` or ``file:``, or names an archive
(``.whl``, ``.tar.gz``, ...), or contains ``/``, or is not a valid requirement but names an
existing folder. A bare name (``mypkg``) is always a requirement, so that an entry means the
same on every machine; write ``./mypkg`` for a folder. After ``~`` comes ``/`` or a user
name: ``~=1.0`` (a requirement without its name) is refused, not read as a home folder.

`packaging` is imported lazily: loading a spec without pip entries does not need it.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from packaging.requirements import Requirement

__all__ = ["PipEntry", "classify", "is_path", "local_path", "normalize"]

_PATH_PREFIXES = ("./", "../", "/", "~", "file:")
# What ``~USER`` may hold (POSIX's portable user names; a final "$" as useradd allows):
# ``~=1.0`` is no home folder on any machine, so the spec is refused where it is read.
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


@dataclass(frozen=True)
class PipEntry:
    """A checked pip entry: `kind` is "requirement" or "path"; `problem` / `warning` or None."""

    kind: str
    problem: str | None = None
    warning: str | None = None


def classify(entry: str, base_dir: Path | None = None) -> PipEntry:
    """Check one pip entry (already stripped); say what it is and what is wrong with it."""
    if not entry:
        return PipEntry("requirement", problem="empty pip entry")
    if entry.startswith("-"):
        why = _explain(entry) or (
            "pip options are not supported; give a requirement or a path "
            "(for '-e PATH', the path alone)"
        )
        return PipEntry("requirement", problem=f"{entry!r}: {why}")
    if _looks_like_path(entry):
        return _path_entry(entry)
    base = base_dir if base_dir is not None else Path()
    requirement, reason = _parse_requirement(entry)
    if requirement is None:
        if "/" in entry or _is_dir(base, entry):
            return _path_entry(entry)
        return PipEntry(
            "requirement", problem=f"{entry!r} is not a valid PEP 508 requirement: {reason}"
        )
    if requirement.url:
        return PipEntry(
            "requirement",
            problem=_url_problem(requirement.url),
            warning=_url_warning(entry, requirement.url),
        )
    if _is_dir(base, entry):
        # A bare name means the same on every machine: a requirement, never a folder.
        return PipEntry(
            "requirement",
            warning=f"{entry!r} is read as a requirement (a package index name); "
            f"write './{entry}' for the folder next to the spec",
        )
    return PipEntry("requirement")


def normalize(entry: str) -> str:
    """The normal form of a valid pip entry (see `poncho_spec.canonical`)."""
    if _looks_like_path(entry):
        return _normalize_path(entry)
    from packaging.utils import canonicalize_name

    requirement, _ = _parse_requirement(entry)
    if requirement is None:
        return _normalize_path(entry)
    out: str = canonicalize_name(requirement.name)
    if requirement.extras:
        out += "[" + ",".join(sorted({canonicalize_name(e) for e in requirement.extras})) + "]"
    if requirement.url:
        out += f" @ {requirement.url}"
        if requirement.marker:
            out += f" ; {requirement.marker}"
        return out
    out += ",".join(sorted(str(s) for s in requirement.specifier))
    if requirement.marker:
        out += f"; {requirement.marker}"
    return out


def is_path(entry: str, base_dir: Path | None = None) -> bool:
    """Whether a valid pip entry is a local path (as opposed to a requirement)."""
    return classify(entry, base_dir).kind == "path"


def local_path(entry: str, base_dir: Path) -> Path:
    """The absolute path a local-path pip entry names (relative ones are under `base_dir`).

    Raises ValueError when ``~user`` names no user of this machine (or ``~`` no home).
    """
    text = unquote(urlsplit(entry).path) if entry.startswith("file:") else entry
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # pathlib's "Could not determine home directory"
        user = text.split("/", 1)[0]
        raise ValueError(
            f"{entry!r}: cannot expand {user!r}: no such user (or no home folder) here"
        ) from None
    return Path(os.path.normpath(base_dir / path))


# PEP 508's name rule. packaging's parser also accepts a name ending in "_" or ".", which
# canonicalizes to one ending in "-" that no parser accepts: the canonical form would not
# be a valid spec. Such names are refused here, before the canonical form is made.
_PEP508_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)


def _parse_requirement(entry: str) -> tuple[Requirement | None, str]:
    """The requirement `entry` is, or None and why it is none."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(entry)
    except InvalidRequirement as exc:
        return None, str(exc).splitlines()[0]
    names = [requirement.name, *requirement.extras]
    bad = next((name for name in names if not _PEP508_NAME.fullmatch(name)), None)
    if bad is not None:
        reason = f"{bad!r} is not a valid name (letters, digits, '.', '-', '_'; "
        reason += "starting and ending with a letter or digit)"
        return None, reason
    return requirement, ""


def _explain(entry: str) -> str | None:
    """pip's own parser's word on a line that is no requirement (with poncho-spec[import])."""
    from poncho_spec._reqlines import explain_pip_line

    return explain_pip_line(entry)


def _is_dir(base: Path, entry: str) -> bool:
    """Whether `entry` names a folder under `base`; False for a name no file system takes
    (too long, a NUL): such an entry is a requirement or invalid, never a path."""
    try:
        return (base / entry).is_dir()
    except (OSError, ValueError):
        return False


def _looks_like_path(entry: str) -> bool:
    if entry in (".", "..") or entry.startswith(_PATH_PREFIXES):
        return True
    return entry.endswith(_ARCHIVE_SUFFIXES) and "@" not in entry and ";" not in entry


def _path_entry(entry: str) -> PipEntry:
    if entry.startswith("file:"):
        return PipEntry("path", problem=_url_problem(entry), warning=_url_warning(entry, entry))
    if entry.startswith("~"):
        user = entry[1:].split("/", 1)[0]
        if user and not _USER.fullmatch(user):
            # "~=1.0", "~>2": a requirement without its name, which no machine can expand.
            return PipEntry(
                "path",
                problem=f"{entry!r} is neither a requirement (it has no package name) nor a "
                f"home-folder path ({user!r} is not a user name: letters, digits, '.', '_', "
                "'-'); write ~/PATH, ~USER/PATH or NAME~=VERSION",
            )
        return PipEntry(
            "path",
            warning=f"{entry!r} is in a user's home folder: the spec only builds for that user",
        )
    if entry.startswith("/"):
        return PipEntry(
            "path", warning=f"{entry!r} is an absolute path: the spec only builds on this machine"
        )
    return PipEntry("path")


def _url_problem(url: str) -> str | None:
    from poncho_spec._urls import parse_problem

    reason = parse_problem(url)
    if reason is not None:
        return f"{url!r} is not a valid URL: {reason}"
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"{url!r} is not a valid URL: it contains whitespace or control characters"
    if urlsplit(url).password is not None:
        return f"{url!r} contains a password: keep secrets out of specs"
    return None


def _url_warning(entry: str, url: str) -> str | None:
    if _url_problem(url) is not None:
        return None
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path.startswith("/"):
        return f"{entry!r} is an absolute path: the spec only builds on this machine"
    return None


def _normalize_path(entry: str) -> str:
    if entry.startswith("file:"):
        return entry
    if entry.startswith("~"):
        # Normalised below the home folder only: "~/../x" must not become the name "x".
        home, _, rest = entry.partition("/")
        rest = posixpath.normpath(rest.strip("/") or ".")
        return home if rest == "." else f"{home}/{rest}"
    trailing = entry.rstrip("/") or "/"
    normal = posixpath.normpath(trailing)
    if entry.startswith("/") or normal.startswith("../") or normal == "..":
        return normal
    return "./" + normal if normal != "." else "."

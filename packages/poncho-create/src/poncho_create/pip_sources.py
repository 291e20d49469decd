"""Where the pip step's inputs come from: local path entries, and packages installed in the
current environment (typically the user's own code, ``pip install -e .``), found by the
distribution's ``direct_url.json``; and the names pip gives them."""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from poncho_create.errors import PipError

__all__ = [
    "installed_source",
    "is_path_entry",
    "normalize_name",
    "requirement_name",
    "resolve_path",
    "url_to_path",
]

_PATH_PREFIXES = ("./", "../", "/", "~", "file:")


def is_path_entry(entry: str, base_dir: Path | None = None) -> bool:
    """True if a pip entry names a local folder or archive rather than a requirement
    (``"."``, the spec's own folder, as poncho_package_analyze writes it, included)."""
    if entry in (".", "..") or entry.startswith(_PATH_PREFIXES):
        return True
    return "/" in entry and "@" not in entry and (Path(base_dir or ".") / entry).exists()


def resolve_path(entry: str, base_dir: Path | None) -> Path:
    """The absolute path a pip path entry names; PipError if it does not exist."""
    if entry.startswith("file:"):
        path = url_to_path(entry)
    else:
        path = Path(entry).expanduser()
        if not path.is_absolute():
            path = Path(base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.exists():
        raise PipError(f"pip entry {entry!r}: {path} does not exist")
    return path


def installed_source(
    name: str,
    requirement: str | None = None,
    current_env: Sequence[str] | None = None,
    *,
    pip_output: str = "",
) -> Path:
    """Where the source of `name`, installed in the current environment, lives.

    Read from the distribution's ``direct_url.json`` (a ``file://`` folder or archive,
    editable or not). PipError names the package when it is not installed, does not
    satisfy `requirement`, or its source cannot be found.
    """
    tail = f"\n{pip_output}" if pip_output else ""
    dist = _find_distribution(name, current_env)
    if dist is None:
        raise PipError(
            f"pip package {name!r} was not found on any index, and it is not installed in the "
            f"current environment either{tail}"
        )
    version = dist.version
    if requirement is not None:
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            specifier = Requirement(requirement).specifier
        except InvalidRequirement:
            specifier = None
        if specifier is not None and not specifier.contains(version, prereleases=True):
            raise PipError(
                f"pip package {name!r} is not on any index, and the version installed in the "
                f"current environment ({version}) does not satisfy {requirement!r}{tail}"
            )
    text = dist.read_text("direct_url.json")
    url = ""
    if text:
        try:
            url = str(json.loads(text).get("url", ""))
        except ValueError:
            url = ""
    if not url.startswith("file:"):
        raise PipError(
            f"pip package {name!r} {version} is installed in the current environment but not on "
            f"any index, and its source location is unknown (it was not installed from a local "
            f"folder or file){tail}"
        )
    path = url_to_path(url)
    if not path.exists():
        raise PipError(
            f"pip package {name!r} {version} is installed in the current environment from "
            f"{path}, which no longer exists{tail}"
        )
    return path


def _find_distribution(
    name: str, current_env: Sequence[str] | None
) -> importlib.metadata.Distribution | None:
    wanted = normalize_name(name)
    search = list(current_env) if current_env is not None else None
    kwargs: dict[str, Any] = {"path": search} if search is not None else {}
    for dist in importlib.metadata.distributions(**kwargs):
        dist_name = dist.metadata["Name"] if dist.metadata else None
        if dist_name and normalize_name(dist_name) == wanted:
            return dist
    return None


def url_to_path(url: str) -> Path:
    """The local path a ``file:`` URL names."""
    parts = urlsplit(url)
    return Path(url2pathname(unquote(parts.path))).resolve()


def requirement_name(requirement: str) -> str:
    """The normalized project name a requirement starts with ("" if none)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._\-]*)", requirement)
    return normalize_name(match.group(1)) if match else ""


def normalize_name(name: str) -> str:
    """A project name as pip compares them (PEP 503: lower case, runs of -_. as -)."""
    return re.sub(r"[-_.]+", "-", name).lower()

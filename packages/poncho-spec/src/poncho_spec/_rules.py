"""The rules a spec's values are judged by: the keys each object may hold, the names and
values allowed, and :class:`Checker`, which applies them to one value at a time and collects
every problem (with its JSON path) and warning.

:mod:`poncho_spec._build` walks a document section by section with these rules; the
accepted forms are described in :mod:`poncho_spec.validate`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from poncho_spec._document import json_path
from poncho_spec._sections import is_relative_remote
from poncho_spec._urls import parse_problem
from poncho_spec._variables import reserved_reason
from poncho_spec.errors import Problem

__all__ = [
    "COMPRESSIONS",
    "CONDA_KEYS",
    "GIT_KEYS",
    "HTTP_KEYS",
    "HTTP_TYPES",
    "IGNORED_TOP_KEYS",
    "TOP_KEYS",
    "Checker",
    "did_you_mean",
    "show",
    "type_name",
    "unknown_key",
    "url_problem",
]

TOP_KEYS = ("conda", "pip", "git", "http", "pinned")
# Top-level keys of `conda env export` (which CCTools' analyze starts from): accepted, ignored.
IGNORED_TOP_KEYS = {
    "name": "ignored: an environment is named by its hash",
    "prefix": "ignored: a user-specific path (poncho-create decides where environments are built)",
    "variables": "ignored: conda's environment variables are not set by Poncho (nor were they "
    "by CCTools); set them in the task",
}
CONDA_KEYS = ("channels", "dependencies", "packages", "name", "prefix")
GIT_KEYS = ("remote", "ref")
HTTP_KEYS = ("url", "type", "compression", "sha256")
HTTP_TYPES = ("file", "tar")
COMPRESSIONS = ("gzip", "bzip2", "xz")
_HINTS = {
    "tag": "ref",
    "branch": "ref",
    "commit": "ref",
    "rev": "ref",
    "revision": "ref",
    "repo": "remote",
    "repository": "remote",
    "checksum": "sha256",
    "hash": "sha256",
    "digest": "sha256",
    "link": "url",
    "deps": "dependencies",
    "channel": "channels",
}
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,39}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, C1, line separators
_BAD_REF = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|@\{|//|\.lock$|/$|^/|\.$")


def type_name(value: object) -> str:
    """The JSON type of `value` as a message names it: "a string", "null"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Checker:
    """Applies the rules to values, collecting `problems` and `warnings` ("<path>: <message>")."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}" if path else message)

    def check_keys(
        self, obj: dict[str, Any], allowed: Iterable[str], path: str, ignored: Iterable[str] = ()
    ) -> None:
        allowed = tuple(allowed)
        ignored = frozenset(ignored)  # accepted, but not offered in hints
        for key in getattr(obj, "duplicates", ()):
            self.error(json_path(path, key), "key given more than once")
        for key in obj:
            if key in allowed or key in ignored:
                continue
            self.error(json_path(path, key), unknown_key(key, allowed))

    def mapping(self, value: object, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.error(path, f"must be an object, got {type_name(value)}")
        return None

    def string(self, value: object, path: str, *, what: str = "a string") -> str | None:
        if not isinstance(value, str):
            self.error(path, f"must be {what}, got {type_name(value)}")
            return None
        if not value.strip():
            self.error(path, "must not be empty")
            return None
        return value.strip()

    def array(self, value: object, path: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.error(path, f"must be an array, got {type_name(value)}")
        return []

    def channel(self, value: object, path: str) -> str | None:
        channel = self.string(value, path)
        if channel is None:
            return None
        if any(c.isspace() for c in channel) or _CONTROL.search(channel):
            what = "whitespace" if any(c.isspace() for c in channel) else "a control character"
            self.error(path, f"{channel!r} is not a valid channel (it contains {what})")
            return None
        parts = self.url_parts(channel, path)
        if parts is None:
            return None
        if channel.startswith(("/", "~")) or (parts.scheme == "file" and parts.path):
            self.warn(path, f"{channel!r} is a local folder: the spec only builds on this machine")
        return channel

    def variable_name(self, var: str, path: str) -> bool:
        """Whether `var` may name a data source (else an error says why)."""
        if not _VARIABLE.fullmatch(var):
            self.error(
                path,
                f"{var!r} is not a valid environment variable name "
                "(letters, digits and '_', not starting with a digit)",
            )
            return False
        if (reason := reserved_reason(var)) is not None:
            self.error(path, f"{var!r} is reserved: {reason}; pick another name")
            return False
        return True

    def git_remote(self, value: object, path: str) -> str | None:
        remote = self.string(value, path)
        if remote is None:
            return None
        if re.match(r"(ext|fd)::", remote):
            self.error(
                path,
                f"{remote!r}: the {remote.split('::')[0]}:: transport runs commands; give a URL",
            )
            return None
        if remote.startswith("-") or any(c.isspace() for c in remote) or _CONTROL.search(remote):
            self.error(path, f"{remote!r} is not a valid git remote")
            return None
        if "://" in remote and self.url_parts(remote, path) is None:
            return None
        if remote.startswith(("/", "~", "file:")):
            self.warn(
                path, f"{remote!r} is a local repository: the spec only works on this machine"
            )
        elif is_relative_remote(remote):
            self.warn(
                path,
                f"{remote!r} is a local repository, relative to the spec's folder: "
                "poncho_package_create stores it resolved; the spec only works on this machine",
            )
        return remote

    def git_ref(self, value: object, path: str) -> str | None:
        ref = self.string(value, path)
        if ref is None:
            return None
        if ref.startswith("-") or _BAD_REF.search(ref):
            self.error(path, f"{ref!r} is not a valid git ref")
            return None
        if _FULL_SHA.fullmatch(ref):
            return ref
        if _SHORT_SHA.fullmatch(ref) and re.search(r"[0-9]", ref):
            self.warn(
                path,
                f"{ref!r} looks like a short commit sha: give all 40 hex digits so "
                "it cannot become ambiguous",
            )
        else:
            self.warn(
                path,
                f"{ref!r} looks like a branch or tag: its commit can change; "
                "give a commit sha for a reproducible environment",
            )
        return ref

    def http_url(self, value: object, path: str) -> str | None:
        url = self.string(value, path)
        if url is None:
            return None
        if any(c.isspace() for c in url) or _CONTROL.search(url):
            self.error(
                path, f"{url!r} is not a valid URL: it contains whitespace or control characters"
            )
            return None
        parts = self.url_parts(url, path)
        if parts is None:
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.error(path, f"{url!r} is not an http:// or https:// URL")
            return None
        return url

    def http_options(self, kind: object, compression: object, sha256: object, path: str) -> None:
        """Check an http entry's ``type``, ``compression`` and ``sha256`` (as given)."""
        if kind not in HTTP_TYPES:
            self.error(json_path(path, "type"), f"must be 'file' or 'tar', got {show(kind)}")
        if compression is not None and compression not in COMPRESSIONS:
            choices = ", ".join(map(repr, COMPRESSIONS))
            hint = did_you_mean(compression, COMPRESSIONS)
            self.error(
                json_path(path, "compression"),
                f"must be {choices} or null, got {show(compression)}{hint}",
            )
        if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            self.error(
                json_path(path, "sha256"),
                f"must be 64 hex digits (a sha256 checksum) or null, got {show(sha256)}",
            )

    def url_parts(self, url: str, path: str) -> SplitResult | None:
        """The parts of `url`, or None (and an error) if it cannot be parsed or holds a
        password."""
        problem = url_problem(url)
        if problem is not None:
            self.error(path, problem)
            return None
        return urlsplit(url)


def url_problem(url: str) -> str | None:
    """Why `url` is not usable (unparseable: ``http://[``, a bad port; a password), or None."""
    reason = parse_problem(url)
    if reason is not None:
        return f"{url!r} is not a valid URL: {reason}"
    if urlsplit(url).password is not None:
        return "the URL contains a password: keep secrets out of specs"
    return None


def show(value: object) -> str:
    """`value` as a message shows it: a string quoted, other JSON as JSON."""
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def unknown_key(key: str, allowed: Iterable[str]) -> str:
    """The message for a key not in `allowed`: ``unknown key (did you mean 'x'?)`` for a
    known synonym or a close spelling, else ``unknown key (expected one of ...)``. Specs and
    poncho-create's config file word a mistyped key the same way."""
    allowed = tuple(allowed)
    hint = _HINTS.get(key.lower())
    if hint not in allowed:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = close[0] if close else None
    if hint:
        return f"unknown key (did you mean {hint!r}?)"
    return "unknown key (expected one of " + ", ".join(map(repr, allowed)) + ")"


def did_you_mean(value: object, choices: tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to `value`, or ""."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""

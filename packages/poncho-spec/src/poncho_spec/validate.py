"""Check a decoded spec document, collecting every problem with its JSON path, and build the
model from it.

Accepted forms (legacy CCTools forms are read transparently and converted):

- ``conda``: an object with ``channels`` (strings), ``dependencies`` (match-spec strings
  and ``{"pip": [...]}`` entries, as conda environment files allow), legacy ``packages``
  (same as ``dependencies``) and ``name`` (accepted and ignored, with a warning; it is not
  part of the environment). ``prefix`` is an error: an absolute, user-specific path. The
  oldest CCTools form, ``"conda": [...]``, is a list of dependencies.
- ``pip``: the legacy top-level list of pip entries, merged with the nested one.
- ``git``: ``{VAR: {"remote": ..., "ref": ...}}``; ``ref`` should be a full commit sha; a
  branch, tag, short sha or missing ref (meaning "HEAD") is accepted with a warning.
- ``http``: ``{VAR: {"url": ..., "type": "file"|"tar", "compression": ..., "sha256": ...}}``.

- ``pinned``: ``{"conda": {PACKAGE: VERSION}}`` (CCTools): packages held at a version.
- top-level ``name``, ``prefix`` and ``variables`` (``conda env export`` writes them, and
  CCTools' analyze with it): accepted with a warning and ignored (CCTools never set
  ``variables`` either).

Unknown keys are errors at every level. Variable names must be valid shell names, unique
across ``git`` and ``http``, and not one of the variables an environment relies on or that
change how processes start (``LD_*``, ``BASH_ENV``, ``PYTHON*``, ``GIT_*``...: see
:mod:`poncho_spec._variables`). URLs must parse and hold no whitespace or control characters.
Non-portable details (absolute paths, home folders) give warnings; passwords in URLs and
``conda.prefix`` are errors.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from poncho_spec import _pip, matchspec
from poncho_spec._document import document_problems
from poncho_spec._urls import parse_problem
from poncho_spec._variables import RESERVED_PREFIXES, RESERVED_VARIABLES, reserved_reason
from poncho_spec.errors import InvalidSpec, Problem
from poncho_spec.model import (
    DEFAULT_CHANNELS,
    CondaSection,
    GitSource,
    HttpSource,
    Spec,
    pin_matchspec,
)

__all__ = [
    "RESERVED_PREFIXES",
    "RESERVED_VARIABLES",
    "DuplicateKeysDict",
    "build_spec",
    "json_path",
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
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,39}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, C1, line separators
_BAD_REF = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|@\{|//|\.lock$|/$|^/|\.$")


class DuplicateKeysDict(dict[str, Any]):
    """A JSON object that remembers keys given more than once (for `json` object hooks)."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> DuplicateKeysDict:
        """`object_pairs_hook` for `json.loads`."""
        out = cls(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            duplicates = []
            for key, _ in pairs:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
            out.duplicates = tuple(dict.fromkeys(duplicates))
        return out


def json_path(base: str, key: str | int) -> str:
    """Extend a JSON path: ``conda`` + ``channels`` -> ``conda.channels``; + 2 -> ``[2]``."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{base}.{key}" if base else key
    # Escaped unless printable: a message is one line, whatever the key holds.
    return f"{base}[{json.dumps(key, ensure_ascii=not key.isprintable())}]"


def build_spec(data: object, *, source: str | None = None, base_dir: Path | None = None) -> Spec:
    """Validate `data` (a decoded JSON document) and build the Spec; see the module doc.

    Raises InvalidSpec with every problem found.
    """
    return _Builder(base_dir).build(data, source)


def _type_name(value: object) -> str:
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


class _Builder:
    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}" if path else message)

    def build(self, data: object, source: str | None) -> Spec:
        if not isinstance(data, dict):
            raise InvalidSpec(
                [Problem("", f"a spec must be a JSON object, got {_type_name(data)}")], source
            )
        unsafe = document_problems(data)
        if unsafe:  # checked first: what follows may encode, recurse over or print them
            raise InvalidSpec(unsafe, source)
        self.check_keys(data, TOP_KEYS, "", ignored=IGNORED_TOP_KEYS)
        channels: list[str] = []
        dependencies: list[str] = []
        pip: list[str] = []
        if "conda" in data:
            self.conda(data["conda"], channels, dependencies, pip)
        if "pip" in data:
            pip.extend(self.pip_list(data["pip"], "pip"))
        git = self.git(data["git"]) if "git" in data else {}
        http = self.http(data["http"]) if "http" in data else {}
        pinned = self.pinned(data["pinned"]) if "pinned" in data else {}
        for key, message in IGNORED_TOP_KEYS.items():
            if key in data:
                self.warn(key, message)
        for var in sorted(git.keys() & http.keys()):
            self.error(
                json_path("http", var),
                f"{var!r} is also defined in git: each variable names one data source",
            )
        if self.problems:
            raise InvalidSpec(self.problems, source)
        return Spec(
            conda=CondaSection(tuple(channels) or DEFAULT_CHANNELS, tuple(dependencies)),
            pip=tuple(pip),
            git=git,
            http=http,
            pinned=pinned,
            warnings=tuple(self.warnings),
            base_dir=self.base_dir,
            source=source,
        )

    # -- helpers --------------------------------------------------------------------------

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
            hint = _HINTS.get(key.lower())
            if hint not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = close[0] if close else None
            if hint:
                message = f"unknown key (did you mean {hint!r}?)"
            else:
                message = "unknown key (expected one of " + ", ".join(map(repr, allowed)) + ")"
            self.error(json_path(path, key), message)

    def mapping(self, value: object, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.error(path, f"must be an object, got {_type_name(value)}")
        return None

    def string(self, value: object, path: str, *, what: str = "a string") -> str | None:
        if not isinstance(value, str):
            self.error(path, f"must be {what}, got {_type_name(value)}")
            return None
        if not value.strip():
            self.error(path, "must not be empty")
            return None
        return value.strip()

    def array(self, value: object, path: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.error(path, f"must be an array, got {_type_name(value)}")
        return []

    # -- conda ----------------------------------------------------------------------------

    def conda(
        self, value: object, channels: list[str], dependencies: list[str], pip: list[str]
    ) -> None:
        if isinstance(value, list):  # oldest CCTools form: "conda": [match specs]
            self.conda_dependencies(value, "conda", dependencies, pip)
            return
        conda = self.mapping(value, "conda")
        if conda is None:
            return
        self.check_keys(conda, CONDA_KEYS, "conda")
        if "channels" in conda:
            for i, item in enumerate(self.array(conda["channels"], "conda.channels")):
                channel = self.channel(item, json_path("conda.channels", i))
                if channel is not None:
                    channels.append(channel)
        for key in ("dependencies", "packages"):
            if key in conda:
                path = json_path("conda", key)
                self.conda_dependencies(self.array(conda[key], path), path, dependencies, pip)
        if "name" in conda and self.string(conda["name"], "conda.name") is not None:
            self.warn("conda.name", "ignored: an environment is named by its hash")
        if "prefix" in conda:
            self.error(
                "conda.prefix",
                "not allowed: an absolute, user-specific path (remove it; poncho-create "
                "decides where environments are built)",
            )

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

    def conda_dependencies(
        self, items: list[Any], path: str, dependencies: list[str], pip: list[str]
    ) -> None:
        for i, item in enumerate(items):
            item_path = json_path(path, i)
            if isinstance(item, dict):
                if set(item) != {"pip"}:
                    keys = ", ".join(map(repr, item)) or "none"
                    self.error(
                        item_path, f'an object entry must be {{"pip": [...]}}, got keys {keys}'
                    )
                    continue
                pip.extend(self.pip_list(item["pip"], json_path(item_path, "pip")))
                continue
            if not isinstance(item, str):
                self.error(item_path, f"must be a conda match spec string, got {_type_name(item)}")
                continue
            spec = item.strip()
            reason = matchspec.check(spec) if spec else "empty match spec"
            if reason is not None:
                self.error(item_path, f"{item!r} is not a valid conda match spec: {reason}")
                continue
            dependencies.append(spec)

    def pinned(self, value: object) -> dict[str, str]:
        """CCTools' ``{"pinned": {"conda": {"package": "version"}}}``: conda-meta/pinned."""
        pinned = self.mapping(value, "pinned")
        if pinned is None:
            return {}
        self.check_keys(pinned, ("conda",), "pinned")
        if "conda" not in pinned:
            return {}
        pins = self.mapping(pinned["conda"], "pinned.conda")
        out: dict[str, str] = {}
        for key in getattr(pins, "duplicates", ()):
            self.error(json_path("pinned.conda", key), "package given more than once")
        for name, version in (pins or {}).items():
            path = json_path("pinned.conda", name)
            text = self.string(version, path, what="a version string")
            if text is None:
                continue
            pin = pin_matchspec(name, text)
            reason = matchspec.check(pin)
            if reason is not None or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", name):
                self.error(path, f"{pin!r} is not a valid conda pin: {reason or 'bad name'}")
                continue
            out[name.lower()] = text
        return out

    # -- pip ------------------------------------------------------------------------------

    def pip_list(self, value: object, path: str) -> list[str]:
        out = []
        for i, item in enumerate(self.array(value, path)):
            item_path = json_path(path, i)
            if not isinstance(item, str):
                self.error(item_path, f"must be a string, got {_type_name(item)}")
                continue
            entry = item.strip()
            checked = _pip.classify(entry, self.base_dir)
            if checked.warning:
                self.warn(item_path, checked.warning)
            if checked.problem:
                self.error(item_path, checked.problem)
                continue
            out.append(entry)
        return out

    # -- data sources ---------------------------------------------------------------------

    def variables(self, value: object, section: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The (variable, path, entry) of a git or http section whose names are valid."""
        mapping = self.mapping(value, section)
        if mapping is None:
            return []
        for key in getattr(mapping, "duplicates", ()):
            self.error(json_path(section, key), "variable given more than once")
        out = []
        for var, entry in mapping.items():
            path = json_path(section, var)
            ok = True
            if not _VARIABLE.fullmatch(var):
                self.error(
                    path,
                    f"{var!r} is not a valid environment variable name "
                    "(letters, digits and '_', not starting with a digit)",
                )
                ok = False
            elif (reason := reserved_reason(var)) is not None:
                self.error(path, f"{var!r} is reserved: {reason}; pick another name")
                ok = False
            obj = self.mapping(entry, path)
            if obj is not None and ok:
                out.append((var, path, obj))
            elif obj is not None:
                self.check_entry_only(obj, section, path)
        return out

    def check_entry_only(self, obj: dict[str, Any], section: str, path: str) -> None:
        # Still report what is wrong inside an entry whose name is invalid.
        if section == "git":
            self.git_entry(obj, path)
        else:
            self.http_entry(obj, path)

    def git(self, value: object) -> dict[str, GitSource]:
        out = {}
        for var, path, obj in self.variables(value, "git"):
            source = self.git_entry(obj, path)
            if source is not None:
                out[var] = source
        return out

    def git_entry(self, obj: dict[str, Any], path: str) -> GitSource | None:
        self.check_keys(obj, GIT_KEYS, path)
        remote = None
        if "remote" not in obj:
            self.error(json_path(path, "remote"), "missing (the URL of the git repository)")
        else:
            remote = self.git_remote(obj["remote"], json_path(path, "remote"))
        ref_path = json_path(path, "ref")
        if "ref" not in obj:
            ref: str | None = "HEAD"
            self.warn(
                ref_path,
                "missing: the default branch (HEAD) is used, which moves; give a commit sha",
            )
        else:
            ref = self.git_ref(obj["ref"], ref_path)
        if remote is None or ref is None:
            return None
        return GitSource(remote=remote, ref=ref)

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

    def http(self, value: object) -> dict[str, HttpSource]:
        out = {}
        for var, path, obj in self.variables(value, "http"):
            source = self.http_entry(obj, path)
            if source is not None:
                out[var] = source
        return out

    def http_entry(self, obj: dict[str, Any], path: str) -> HttpSource | None:
        self.check_keys(obj, HTTP_KEYS, path)
        problems = len(self.problems)
        url = None
        if "url" not in obj:
            self.error(json_path(path, "url"), "missing (the http:// or https:// URL to fetch)")
        else:
            url = self.http_url(obj["url"], json_path(path, "url"))
        kind = obj.get("type", "file")
        if kind not in HTTP_TYPES:
            self.error(json_path(path, "type"), f"must be 'file' or 'tar', got {_show(kind)}")
        compression = obj.get("compression")
        if compression is not None and compression not in COMPRESSIONS:
            choices = ", ".join(map(repr, COMPRESSIONS))
            hint = _did_you_mean(compression, COMPRESSIONS)
            self.error(
                json_path(path, "compression"),
                f"must be {choices} or null, got {_show(compression)}{hint}",
            )
        sha256 = obj.get("sha256")
        if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            self.error(
                json_path(path, "sha256"),
                f"must be 64 hex digits (a sha256 checksum) or null, got {_show(sha256)}",
            )
        if url is None or len(self.problems) != problems:
            return None
        return HttpSource(
            url=url, type=kind, compression=compression, sha256=sha256.lower() if sha256 else None
        )

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


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _did_you_mean(value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""

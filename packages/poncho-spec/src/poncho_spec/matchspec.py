"""Conda match specs: validation (py-rattler when installed, else a structural check) and
the normal form used by the canonical hash.

py-rattler is an optional dependency (``poncho-spec[conda]``): workers that only run
environments do not have it. It is imported lazily, the first time a conda entry is checked.

An entry is valid if it passes the structural check (:func:`check_structure`: package name
charset, operators, version and build characters, ``[key=value]`` part) and, when rattler is
installed, ``MatchSpec(s, strict=True)`` or the lenient ``MatchSpec(s)`` accepts it. The
lenient route keeps the forms conda itself writes and reads (``name=1.2=build`` from
``conda env export``, ``name 1.2 build``) that rattler's strict mode calls ambiguous; the
structural check refuses what lenient mode would accept by guessing (``foo bar baz qux``).
Since the structural check always applies, a spec valid where rattler is installed is
valid on a worker without it.

The normal form (:func:`normalize`) never depends on rattler, so a spec hashes the same on
every machine: it only lowercases the package name and normalises whitespace
(``numpy >= 1.2, <2`` and ``NumPy>=1.2,<2`` both become ``numpy >=1.2,<2``). It never
rewrites one operator into another (``numpy=1.2`` and ``numpy 1.2.*`` stay different
strings: at worst a cache miss, never two different environments under one name).
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from types import ModuleType

__all__ = ["check", "check_structure", "normalize"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_OPERATORS = frozenset({"==", "!=", "<=", ">=", "<", ">", "~=", "=", ""})
_OPERATOR_RUN = re.compile(r"[<>=!~]*")
_VERSION_CHARS = re.compile(r"[0-9A-Za-z_.*+!<>=~,|()\-]+")
_VERSION_BODY = re.compile(r"[0-9A-Za-z_.*+!\-]+")
_BUILD = re.compile(r"[A-Za-z0-9_.*+]+")
_GLUED = re.compile(r"(==?)([^=<>!~\s]+)=([^=\s]+)")
_BRACKET_ITEM = re.compile(
    r"""\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?:"[^"]*"|'[^']*'|[^,"'\[\]\s]+)\s*"""
)


@dataclass(frozen=True)
class _Parsed:
    channel: str | None
    name: str
    version: str | None
    build: str | None
    glued: bool  # written as name=version=build
    brackets: str | None


@functools.lru_cache(maxsize=1)
def _rattler() -> ModuleType | None:
    try:
        return importlib.import_module("rattler")
    except ImportError:
        return None


def check(spec: str) -> str | None:
    """Return why `spec` is not a valid conda match spec, or None if it is valid."""
    # The structural check always applies, also after rattler: what is valid here is then
    # valid on a machine without rattler (a worker), and lenient-mode guesses are refused.
    structure = check_structure(spec)
    rattler = _rattler()
    if rattler is None:
        return structure
    try:
        rattler.MatchSpec(spec, strict=True)
    except Exception as strict_error:  # rattler raises its own exception types
        reason = str(strict_error).splitlines()[0] or "invalid match spec"
        try:
            rattler.MatchSpec(spec)
        except Exception:
            return reason
        return reason if structure is not None else None
    return structure


def check_structure(spec: str) -> str | None:
    """The structural check used without rattler; return the reason `spec` is invalid, or None."""
    try:
        _parse(spec)
    except ValueError as exc:
        return str(exc)
    return None


def normalize(spec: str) -> str:
    """The normal form of a (valid) match spec used in the canonical form; see the module doc."""
    try:
        parsed = _parse(spec)
    except ValueError:
        return " ".join(spec.split())
    out = f"{parsed.channel}::" if parsed.channel else ""
    out += parsed.name.lower()
    if parsed.glued:
        out += f"{parsed.version}={parsed.build}"
    elif parsed.version and re.match(r"=[^=]", parsed.version) and not parsed.build:
        out += parsed.version  # name=1.2 stays as conda users write it
    else:
        if parsed.version:
            out += f" {parsed.version}"
        if parsed.build:
            out += f" {parsed.build}"
    if parsed.brackets:
        out += parsed.brackets
    return out


def _parse(spec: str) -> _Parsed:
    text = spec.strip()
    if not text:
        raise ValueError("empty match spec")
    brackets = None
    if "[" in text or "]" in text:
        start = text.find("[")
        if start < 0 or not text.endswith("]") or text.count("[") != 1 or text.count("]") != 1:
            raise ValueError("unbalanced '[...]'")
        brackets = _check_brackets(text[start:])
        text = text[:start].rstrip()
    channel = None
    if "::" in text:
        channel, text = text.split("::", 1)
        if "::" in text or any(c.isspace() for c in channel):
            raise ValueError("invalid channel before '::'")
        channel = channel or None  # "::numpy" is "numpy"
    match = _NAME.match(text)
    if not match:
        raise ValueError("missing or invalid package name (letters, digits, '-', '_' and '.' only)")
    name, rest = match.group(), text[match.end() :]
    if rest and not (rest[0].isspace() or rest[0] in "<>=!~"):
        raise ValueError(f"invalid character {rest[0]!r} in package name")
    version, build, glued = _split_version_build(rest.strip())
    if version is not None:
        _check_version(version)
    if build is not None and not _BUILD.fullmatch(build):
        raise ValueError(f"invalid build string {build!r}")
    if version is None and brackets is None and rest.strip():
        raise ValueError("invalid version")  # pragma: no cover - _split_version_build guards
    return _Parsed(channel, name, version, build, glued, brackets)


def _split_version_build(rest: str) -> tuple[str | None, str | None, bool]:
    if not rest:
        return None, None, False
    compact = re.sub(r"([<>=!~]+)\s+", r"\1", rest)
    compact = re.sub(r"\s*([,|])\s*", r"\1", compact)
    parts = compact.split()
    if len(parts) > 2:
        raise ValueError("too many space-separated parts (expected 'name version build')")
    if len(parts) == 2:
        return parts[0], parts[1], False
    glued = _GLUED.fullmatch(parts[0])
    if glued:
        return glued.group(1) + glued.group(2), glued.group(3), True
    return parts[0], None, False


def _check_version(version: str) -> None:
    bad = _VERSION_CHARS.sub("", version)
    if bad:
        raise ValueError(f"invalid character {bad[0]!r} in version")
    for atom in re.split(r"[,|]", version.replace("(", "").replace(")", "")):
        if not atom:
            raise ValueError("empty version constraint")
        operator = _OPERATOR_RUN.match(atom)
        op = operator.group() if operator else ""
        body = atom[len(op) :]
        if op not in _OPERATORS:
            raise ValueError(f"invalid operator {op!r}")
        if not body:
            raise ValueError(f"missing version after {op!r}")
        if not _VERSION_BODY.fullmatch(body):
            raise ValueError(f"invalid version {body!r} (a ',' missing between constraints?)")


def _check_brackets(brackets: str) -> str | None:
    inner = brackets[1:-1]
    if not inner.strip():
        return None  # "numpy[]" is "numpy"
    items = _split_bracket_items(inner)
    if not all(_BRACKET_ITEM.fullmatch(item) for item in items):
        raise ValueError(f"invalid bracket part {brackets!r} (expected [key=value, ...])")
    return "[" + ",".join(re.sub(r"\s*=\s*", "=", item.strip(), count=1) for item in items) + "]"


def _split_bracket_items(inner: str) -> list[str]:
    items, current, quote = [], "", ""
    for char in inner:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            items.append(current)
            current = ""
            continue
        current += char
    items.append(current)
    return items

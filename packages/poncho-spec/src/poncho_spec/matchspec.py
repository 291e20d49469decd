"""Conda match specs: the one parser of the conda dependencies of a spec.

Every form conda and CCTools write is read here: ``name=1.2=build`` (``conda env export``,
CCTools' analyzer), ``name==1.2``, ``name 1.2 build``, ``name=1.2.*``, ``name>=1,<2``,
``channel::name``, ``channel/subdir::name``, ``name[version='>=1',build=py*]``.
:func:`check` validates (``poncho_spec validate`` and every spec load use it),
:func:`solver_form` writes a valid spec the way py-rattler's solver reads it (poncho-create
builds with it), :func:`normalize` gives the form the canonical hash uses, and
:func:`package_name` / :func:`channel_of` / :func:`split` read its parts.

py-rattler is an optional dependency (``poncho-spec[conda]``): workers that only run
environments do not have it. It is imported lazily, the first time a conda entry is checked.

An entry is valid if it passes the structural check (:func:`check_structure`: package name
charset, operators, version and build characters, ``[key=value]`` part) and, when rattler is
installed, rattler's strict parser accepts its :func:`solver_form` -- the very string the
solver gets, so a spec that validates is never refused by the build. The solver form
spells out conda's meaning where rattler's strict mode calls conda's own forms ambiguous:
a version next to a build is exact (``numpy=1.2=py_0`` and ``numpy 1.2 py_0`` are
``numpy ==1.2 py_0``), a bare version is exact (``numpy 1.2.3`` is ``numpy ==1.2.3``), and
``=`` before a glob is the glob (``numpy=1.2.*`` is ``numpy 1.2.*``), as conda's own
``MatchSpec`` reads them. The structural check refuses what rattler's lenient mode would
accept by guessing (``foo bar baz qux``). Since the structural check always applies, a spec
valid where rattler is installed is valid on a worker without it.

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
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

__all__ = [
    "channel_of",
    "check",
    "check_structure",
    "normalize",
    "package_name",
    "solver_form",
    "split",
]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_OPERATORS = frozenset({"==", "!=", "<=", ">=", "<", ">", "~=", "=", ""})
_NO_GLOB_AFTER = frozenset({"==", "<", "<=", ">", "~="})
_OPERATOR_RUN = re.compile(r"[<>=!~]*")
_VERSION_CHARS = re.compile(r"[0-9A-Za-z_.*+!<>=~,|()\-]+")
_VERSION_BODY = re.compile(r"[0-9A-Za-z_.*+!\-]+")
_BUILD = re.compile(r"[A-Za-z0-9_.*+]+")
# "version=build" (conda env export, CCTools): the last "=" that follows a version character.
_GLUED = re.compile(r"(.*[^=<>!~,|])=([^=<>!~,|\s]+)")
_ATOM_SPLIT = re.compile(r"([,|()])")
# The last part of "channel/subdir::name" when it is a conda platform subdir.
_SUBDIR = re.compile(r"noarch|(?:linux|osx|win|emscripten|wasi|zos|freebsd)-[a-z0-9_]+")
_BRACKET_ITEM = re.compile(
    r"""\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?:"[^"]*"|'[^']*'|[^,"'\[\]\s]+)\s*"""
)


class _Ambiguous(ValueError):
    """A form conda reads one way and rattler another (a glob after '=='), or a version or
    build given twice."""


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
    try:
        _parse(spec)
        structure = None
    except _Ambiguous as exc:
        return str(exc)  # a reason of conda's forms, clearer than rattler's on the whole
    except ValueError as exc:
        structure = str(exc)
    rattler = _rattler()
    if rattler is None:
        return structure
    try:
        # What the solver will parse: validate accepting and create refusing cannot happen.
        rattler.MatchSpec(spec if structure else solver_form(spec), strict=True)
    except Exception as error:  # rattler raises its own exception types
        return str(error).splitlines()[0] or "invalid match spec"
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
        space = "" if parsed.version and parsed.version[0] in "<>=!~" else " "
        out += f"{space}{parsed.version}={parsed.build}"
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


def solver_form(spec: str, channel_source: Callable[[str], str] | None = None) -> str:
    """A valid `spec` as py-rattler's solver reads it (its strict parser), meaning what
    conda makes of it: ``numpy=1.2=py_0`` and ``numpy 1.2 py_0`` become ``numpy ==1.2 py_0``,
    ``numpy 1.2.3`` becomes ``numpy ==1.2.3``, ``numpy=1.2.*`` becomes ``numpy 1.2.*``; see
    the module doc. `channel_source` maps the channel of ``channel::name`` (without its
    subdir) to what the engine reads for it (a mirror, the channel alias). A spec that is
    not structurally valid is returned unchanged, for the solver to refuse."""
    try:
        parsed = _parse(spec)
    except ValueError:
        return spec
    out = ""
    if parsed.channel:
        channel, subdir = _split_subdir(parsed.channel)
        if channel_source is not None:
            channel = channel_source(channel)
        out = f"{channel}/{subdir}::" if subdir else f"{channel}::"
    out += parsed.name.lower()
    if parsed.version is not None:
        out += " " + _solver_version(parsed.version, has_build=parsed.build is not None)
    if parsed.build is not None:
        out += f" {parsed.build}"
    return out + (parsed.brackets or "")


def package_name(spec: str) -> str | None:
    """The package name of `spec`, lowercased (None if it is not a valid match spec)."""
    try:
        return _parse(spec).name.lower()
    except ValueError:
        return None


def split(spec: str) -> tuple[str | None, str, str] | None:
    """``(channel, name, rest)`` of a valid match spec: its channel before ``::`` (or None),
    its package name lowercased, and what follows the name as written, stripped
    (``"conda-forge::NumPy >=1.2"`` gives ``("conda-forge", "numpy", ">=1.2")``).
    None if `spec` is not a valid match spec."""
    try:
        parsed = _parse(spec)
    except ValueError:
        return None
    text = spec.strip().split("::", 1)[-1]
    return parsed.channel, parsed.name.lower(), text[len(parsed.name) :].strip()


def channel_of(spec: str) -> tuple[str, str | None] | None:
    """The channel of ``channel::name`` or ``channel/subdir::name`` and its subdir (None for
    a spec with no channel or not a valid match spec)."""
    try:
        parsed = _parse(spec)
    except ValueError:
        return None
    return _split_subdir(parsed.channel) if parsed.channel else None


def _split_subdir(channel: str) -> tuple[str, str | None]:
    base, _, last = channel.rstrip("/").rpartition("/")
    if base and _SUBDIR.fullmatch(last):
        return base, last
    return channel, None


def _solver_version(version: str, *, has_build: bool) -> str:
    """conda's reading of a version (conda.models.match_spec) in rattler's strict syntax."""
    if version[:1] == "=" and version[:2] != "==" and not re.search(r"[=,|]", version[1:]):
        body = version[1:]
        if not has_build and not body.endswith("*"):
            return version  # "=1.2": both read it as 1.2.*
        version = body  # "=1.2=build" is exactly 1.2; "=1.2.*" is the glob
    atoms = []
    for atom in _ATOM_SPLIT.split(version):
        operator = _OPERATOR_RUN.match(atom)
        op = operator.group() if operator else ""
        if atom and atom not in ",|()" and "*" not in atom and op == "":
            atom = "==" + atom  # a bare version is an exact one
        elif op == "=" and "*" in atom:
            atom = atom[1:]
        elif op == ">=" and atom.endswith(".*"):
            atom = atom[:-2]  # conda and rattler agree; after ==, <, <=, > they do not
        atoms.append(atom)
    return "".join(atoms)


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
    for key, value in (("version", version), ("build", build)):
        if value is not None and brackets and re.search(rf"[\[,]{key}=", brackets):
            raise _Ambiguous(f"the {key} is given twice, before '[' and inside")
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
        try:
            _check_version(glued.group(1))
        except _Ambiguous:
            raise
        except ValueError:
            pass  # "1=b=c": the whole is reported as the version
        else:
            return glued.group(1), glued.group(2), True
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
        if "*" in body and op in _NO_GLOB_AFTER:
            # conda drops the glob, rattler's lenient mode reads another range: refused.
            plain = f"'{op}{body.rstrip('*').rstrip('.')}'"
            instead = f"'{body}' or {plain}" if op == "==" else plain
            raise _Ambiguous(f"a '*' after {op!r} is ambiguous: write {instead}")


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

"""One version for every distribution of the monorepo, read from the root file VERSION.

Usage: python tools/versions.py check [ROOT]      fail (exit 1) when anything differs from VERSION
       python tools/versions.py set NEW [ROOT]    write NEW to VERSION and everywhere it is kept

The version is kept where each tool expects it (each pyproject's `version`, the pins between
our packages, each package's `__version__`, the man pages' footer through docs/build.py),
so `check` (run by `nox -s lint`) holds them all to VERSION: a pyproject `version`, a pin of
one of our distributions by another (`poncho-spec~=X` or `poncho-core==X` in poncho-tools:
the specifier must name VERSION), a `__version__ = "..."` in a package's `__init__.py` or
`_version.py`. `set` rewrites those same places, nothing else. Standard library only.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_NAME = re.compile(r'^name = "([^"]+)"', re.MULTILINE)
_VERSION = re.compile(r'^(version = ")([^"]+)(")', re.MULTILINE)
_DUNDER = re.compile(r'^(__version__ = ")([^"]+)(")', re.MULTILINE)
_VERSION_FILES = ("__init__.py", "_version.py")


def _pin(names: set[str]) -> re.Pattern[str]:
    """A requirement string on one of *names*: name, extras, operator, version."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf'("(?:{alternatives})(?:\[[^\]]*\])?)(==|~=)([^",;\s]+)')


def pyprojects(root: Path) -> list[Path]:
    """Every package's pyproject.toml."""
    return sorted((root / "packages").glob("*/pyproject.toml"))


def version_sources(root: Path) -> list[Path]:
    """Every package's ``__init__.py`` or ``_version.py`` that may hold a ``__version__``."""
    found = []
    for pyproject in pyprojects(root):
        for src in sorted((pyproject.parent / "src").glob("*")):
            found += [src / name for name in _VERSION_FILES if (src / name).is_file()]
    return found


def ours(root: Path) -> set[str]:
    """The names of our distributions."""
    names = set()
    for path in pyprojects(root):
        match = _NAME.search(path.read_text(encoding="utf-8"))
        if match:
            names.add(match.group(1))
    return names


def problems(root: Path) -> Iterator[str]:
    """One line per place that does not say VERSION."""
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    pin = _pin(ours(root))
    for path in pyprojects(root):
        rel = path.relative_to(root)
        text = path.read_text(encoding="utf-8")
        declared = _VERSION.search(text)
        if declared is None:
            yield f"{rel}: no 'version = \"...\"' line"
        elif declared.group(2) != version:
            yield f"{rel}: version {declared.group(2)}, VERSION says {version}"
        for match in pin.finditer(text):
            if match.group(3) != version:
                requirement = "".join(match.groups()).lstrip('"')
                yield f"{rel}: pins {requirement}, VERSION says {version}"
    for path in version_sources(root):
        match = _DUNDER.search(path.read_text(encoding="utf-8"))
        if match and match.group(2) != version:
            yield f"{path.relative_to(root)}: __version__ {match.group(2)}, VERSION says {version}"


def set_version(root: Path, new: str) -> list[Path]:
    """Write *new* to VERSION and to every place `check` reads; return the files changed."""
    pin = _pin(ours(root))
    changed = []
    for path in [*pyprojects(root), *version_sources(root)]:
        text = path.read_text(encoding="utf-8")
        out = _VERSION.sub(rf"\g<1>{new}\g<3>", text, count=1) if path.suffix == ".toml" else text
        out = pin.sub(rf"\g<1>\g<2>{new}", out)
        out = _DUNDER.sub(rf"\g<1>{new}\g<3>", out, count=1)
        if out != text:
            path.write_text(out, encoding="utf-8")
            changed.append(path)
    (root / "VERSION").write_text(new + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    """`check [ROOT]` or `set NEW [ROOT]`; exit 0, 1 when check finds a difference, 2 on usage."""
    if argv[:1] == ["check"] and len(argv) <= 2:
        root = Path(argv[1]) if len(argv) == 2 else ROOT
        found = list(problems(root))
        for line in found:
            print(f"versions.py: error: {line}", file=sys.stderr)
        return 1 if found else 0
    if argv[:1] == ["set"] and len(argv) in (2, 3):
        root = Path(argv[2]) if len(argv) == 3 else ROOT
        for path in set_version(root, argv[1]):
            print(f"versions.py: {path.relative_to(root)} now says {argv[1]}")
        return 0
    print("usage: python tools/versions.py check [ROOT] | set NEW [ROOT]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

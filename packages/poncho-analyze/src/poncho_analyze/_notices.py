"""What the user is told about what was left out of the spec.

Two kinds, each listed once, one line per module with where it is imported:

- the scripts' own code: a notice (it must travel with the task), or, with ``--strict``
  and without ``--allow-local``, :class:`LocalImports`;
- imports that nothing installed provides: a warning with the remedies, or, with
  ``--strict``, :class:`UnresolvedImports`.

And a script that does not parse for the target, read as well as can be (without
``--strict``): a warning naming the file, the line and why, with the Python version it
needs when that is newer than the spec's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from poncho_analyze.errors import LocalImports, ParseFailed, UnresolvedImports
from poncho_analyze.imports import Import

__all__ = [
    "Found",
    "local_error",
    "local_notice",
    "unparsable_warning",
    "unresolved_error",
    "unresolved_warning",
]

Found = Mapping[str, tuple[str, list[Import]]]
"""Module -> (what it is, or why it is unresolved; the imports of it)."""

_REMEDY_WARNING = (
    "if the task needs them: install the package in the inspected environment and run "
    "again, name it with --pkg-mapping IMPORT=NAME, or add it with --extra-pkg NAME"
)
_REMEDY_ERROR = (
    "install the package providing each in this environment and run again, or name it "
    "with --pkg-mapping IMPORT=NAME"
)


def _listing(head: str, found: Found, line: Callable[[str, str, str], str], tail: str = "") -> str:
    """*head*, one ``line(module, what, where)`` per module (sorted), then *tail*."""
    lines = [head]
    for module in sorted(found):
        what, places = found[module]
        lines.append(line(module, what, ", ".join(sorted({i.location for i in places}))))
    if tail:
        lines.append(tail)
    return "\n".join(lines)


def _local_line(module: str, what: str, where: str) -> str:
    return f"  {module} ({what}, imported at {where})"


def _unresolved_line(module: str, reason: str, where: str) -> str:
    return f"  {module} (imported at {where}): {reason}"


def local_notice(found: Found) -> str:
    """The notice listing the scripts' own code, left out of the spec."""
    head = "left out of the spec, the scripts' own code (it must travel with the task):"
    return _listing(head, found, _local_line)


def local_error(found: Found) -> LocalImports:
    """The ``--strict`` error for the scripts' own code (the wording of the strict
    default of old: relative imports and local modules)."""
    kinds = {
        module: ("relative import" if module.startswith(".") else "local module", places)
        for module, (_, places) in found.items()
    }
    head = (
        "modules beside the scripts are not packages (use --allow-local to leave them "
        "out of the spec knowingly):"
    )
    pairs = [(m, i.location) for m, (_, v) in sorted(found.items()) for i in v]
    return LocalImports(_listing(head, kinds, _local_line), pairs)


def unresolved_warning(found: Found) -> str:
    """The warning listing the imports that no installed package provides."""
    head = "left out of the spec, imports that no installed package provides:"
    return _listing(head, found, _unresolved_line, _REMEDY_WARNING)


def unresolved_error(found: Found) -> UnresolvedImports:
    """The ``--strict`` error for the imports that no installed package provides."""
    head = "no installed package provides these imports:"
    return UnresolvedImports(_listing(head, found, _unresolved_line, _REMEDY_ERROR), sorted(found))


def unparsable_warning(exc: ParseFailed, python: str) -> str:
    """The warning for a script that does not parse for the spec's *python* (``3.11.7``)
    and whose imports were read without parsing it."""
    pinned = ".".join(python.split(".")[:2])
    place = f"{exc.where}:{exc.line}" if exc.line else exc.where
    if exc.needs is not None:
        needed = f"{exc.needs[0]}.{exc.needs[1]}"
        why = f"needs Python >= {needed}; the spec pins {pinned}: use --python {needed}"
    else:
        why = exc.reason
        if why.startswith("this is Python 2 source"):
            why += f", which the spec's Python {pinned} cannot run"
    return (
        f"{place}: {why} (its imports were read without parsing it, best effort; "
        "--strict refuses such a script)"
    )

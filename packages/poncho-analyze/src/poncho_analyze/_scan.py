"""Per-file analysis: each script checked to parse for the target, and its imports.

A script that does not parse is reported, and counts as importing nothing, so that the
other scripts' decisions can still be explained before the error; or, when the caller
recovers (without ``--strict``), its imports are read without parsing the whole text:
the usual walk over the statements that may import, else its tokens
(:mod:`poncho_analyze._tokens`), and the failure is kept for a warning.  ``--function`` keeps
the imports made inside that function; the imports of branches the target never takes,
and the notes about dynamic imports, become decisions of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from poncho_analyze._conditions import Target
from poncho_analyze._syntax import check_syntax
from poncho_analyze._tokens import recover_imports
from poncho_analyze.errors import FunctionNotFound, ParseFailed
from poncho_analyze.imports import FileImports, Import, find_imports, matches_function, scan_files
from poncho_analyze.sources import Script
from poncho_analyze.specgen import Decision

__all__ = ["scan", "select", "side_decisions"]


def scan(
    scripts: Sequence[Script],
    toplevel: bool,
    fast: bool,
    target: Target,
    failures: list[ParseFailed] | None = None,
    recovered: list[ParseFailed] | None = None,
) -> list[FileImports]:
    """The imports of each script.  A script that does not parse for the target is
    recovered when *recovered* is given (its failure is added there), else reported in
    *failures* (raised at once without it) and counts as importing nothing."""
    files = [s.path for s in scripts if s.path != "<stdin>"]
    by_path: dict[str, FileImports] = {}
    if len(files) >= 2:  # many files: maybe in parallel; on a failure, one by one below
        try:
            by_path = scan_files(files, toplevel=toplevel, fast=fast, target=target)
        except ParseFailed:
            by_path = {}
    out = []
    for script in scripts:
        try:
            found = by_path.get(script.path)
            out.append(_scan_one(script, found, toplevel, fast, target, recovered))
        except ParseFailed as exc:
            if failures is None:
                raise
            failures.append(exc)
            out.append(FileImports())
    return out


def _scan_one(
    script: Script,
    found: FileImports | None,
    toplevel: bool,
    fast: bool,
    target: Target,
    recovered: list[ParseFailed] | None = None,
) -> FileImports:
    """Check each cell's syntax; find its imports unless *found* holds them already."""
    result = FileImports()
    for cell, text in script.cells:
        where = script.path if cell is None else f"{script.path}:cell {cell}"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        try:
            tree = check_syntax(text, where, target.version)
        except ParseFailed as exc:
            if recovered is None:
                raise
            recovered.append(exc)
            if found is None:
                result = result.merged(_recover(text, script.path, cell, toplevel, fast, target))
            continue
        if found is None:
            part = find_imports(
                text,
                path=script.path,
                cell=cell,
                toplevel=toplevel,
                fast=fast,
                target=target,
                tree=tree,
            )
            result = result.merged(part)
    return found if found is not None else result


def _recover(
    text: str, path: str, cell: int | None, toplevel: bool, fast: bool, target: Target
) -> FileImports:
    """The imports of a text that does not parse for the target: from the statements
    that may import if they parse (newer syntax elsewhere, Python 2 ``print x``), else
    from its tokens."""
    try:
        return find_imports(text, path=path, cell=cell, toplevel=toplevel, fast=fast, target=target)
    except (SyntaxError, ValueError, RecursionError):  # ParseFailed, or a parser giving up
        return recover_imports(text, path=path, cell=cell, toplevel=toplevel)


def select(
    scripts: Sequence[Script],
    found: list[FileImports],
    function: str | None,
    target: Target,
    recover: bool = False,
) -> list[Import]:
    """The imports to map: all of them, or those inside *function* (raises
    FunctionNotFound when no script defines it).  With *recover*, a script that does
    not parse is read as :func:`scan` reads it when recovering."""
    if not function:
        return [i for r in found for i in r.imports]

    def defined(results: list[FileImports]) -> bool:
        return any(matches_function(s, function) for r in results for s in r.functions)

    if not defined(found):  # fast mode meets only functions that import: look closer
        again: list[ParseFailed] | None = [] if recover else None
        found = scan(scripts, toplevel=False, fast=False, target=target, recovered=again)
        if not defined(found):
            names = ", ".join(s.path for s in scripts)
            raise FunctionNotFound(f"function {function!r} is not defined in {names}")
    return [i for r in found for i in r.imports if matches_function(i.scope, function)]


def side_decisions(found: list[FileImports], function: str | None) -> list[Decision]:
    """The imports left out as never made on the target (one decision per module, with
    every place), and the notes about dynamic imports."""
    dropped: dict[str, Decision] = {}
    for result in found:
        for imp, reason in result.dropped:
            if function and not matches_function(imp.scope, function):
                continue
            name = imp.display or imp.top
            old = dropped.get(name)
            where = tuple(sorted({imp.location, *(old.where if old else ())}))
            dropped[name] = Decision(name, "dropped", "", old.reason if old else reason, where)
    notes = [
        Decision(note.split(": ", 1)[0], "note", "", note.split(": ", 1)[1])
        for result in found
        for note in result.notes
    ]
    return [*dropped.values(), *notes]

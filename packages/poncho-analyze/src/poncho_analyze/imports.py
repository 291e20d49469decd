"""Find every import a piece of Python code can make.

What counts: ``import a.b``, ``from a import b``, imports nested in functions, classes,
conditions and ``try`` blocks, and ``importlib.import_module("x")`` / ``__import__("x")``
with literal names.  Imports under ``if TYPE_CHECKING:`` and ``from __future__ import``
are left out.  An import inside ``try:`` with an ``except ImportError`` (or a broader)
handler, or under ``with suppress(ImportError):``, is marked *optional*.

By default the running interpreter's :mod:`ast` parses the text (see
:mod:`poncho_analyze._ast_walk`): it is fast and cheap to import.  Code it cannot parse
(newer syntax than its own) goes to libcst, which parses any Python 3 version: only the
statements that may hold an import (see :mod:`poncho_analyze._scanner` and
:mod:`poncho_analyze._cst_walk`), or the whole file when the cutting is in doubt;
``fast=False`` always parses whole files with libcst.  Both walks find the same imports.
:func:`scan_files` adds a process pool for large trees.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from poncho_analyze._conditions import Target, flag_names
from poncho_analyze._found import FileImports, Import, matches_function

if TYPE_CHECKING:
    import ast

__all__ = [
    "FileImports",
    "Import",
    "find_imports",
    "matches_function",
    "required_imports",
    "scan_files",
]

# Any import needs one of these words (the same test as ``_scanner.mentions_import``,
# which is only imported for the libcst walk).
_IMPORT_WORD = re.compile(r"\bimport\b|__import__|import_module")
_PARALLEL_MIN_FILES = 64
_PARALLEL_MIN_BYTES = 1_000_000


def find_imports(
    text: str,
    *,
    path: str = "<string>",
    cell: int | None = None,
    toplevel: bool = False,
    fast: bool = True,
    target: Target | None = None,
    tree: ast.Module | None = None,
) -> FileImports:
    """The imports in Python source *text*, in source order.

    *path* and *cell* only label the results and errors.  With *toplevel*, imports inside
    functions and classes are left out.  With *fast* (the default) only the statements
    that may hold an import are parsed, so a syntax error elsewhere goes unnoticed; with
    ``fast=False`` the whole text is parsed.  With a *target*, the imports of ``if``
    branches that it never takes (``sys.version_info``, ``sys.platform``...; see
    :mod:`poncho_analyze._conditions`) go to ``dropped``; without, only those under
    ``if TYPE_CHECKING:`` do.  Raises :class:`ParseFailed` for code that libcst cannot
    parse.  *tree* is the text's :mod:`ast` tree when the caller has it already.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fast and not _IMPORT_WORD.search(text):
        return FileImports()
    if target is not None:
        target = target.with_names(flag_names(text, target))
    from poncho_analyze import _ast_walk

    if fast:
        found = _ast_walk.collect(text, path, cell, toplevel=toplevel, target=target, tree=tree)
        if found is not None:
            return found
    from poncho_analyze import _cst_walk  # slow to import: only for newer syntax

    if fast:
        found = _cst_walk.parse_skeleton(text, path, cell, toplevel, target)
        if found is not None:
            return found
    return _cst_walk.parse_whole(text, path, cell, toplevel, target)


def required_imports(text: str, path: str, target: Target | None = None) -> FileImports:
    """The imports a module makes whenever it is imported: at module level, not optional
    (a ``try`` whose ``except ImportError`` always raises again counts as required), not
    in a branch the *target* never takes.  Whole-file parse; ParseFailed on bad code."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not _IMPORT_WORD.search(text):
        return FileImports()
    if target is not None:
        target = target.with_names(flag_names(text, target))
    from poncho_analyze import _ast_walk

    found = _ast_walk.collect(text, path, None, toplevel=True, target=target, reraise=True)
    if found is None:
        from poncho_analyze import _cst_walk

        found = _cst_walk.parse_skeleton(text, path, None, True, target, reraise=True)
        if found is None:
            found = _cst_walk.parse_whole(text, path, None, True, target, reraise=True)
    kept = tuple(i for i in found.imports if not i.optional)
    return FileImports(kept, found.functions, found.notes, found.dropped)


def _scan_batch(
    paths: list[str], toplevel: bool, fast: bool, target: Target | None = None
) -> list[FileImports]:
    from poncho_analyze.sources import read_script

    out = []
    for path in paths:
        script = read_script(path)
        result = FileImports()
        for cell, text in script.cells:
            result = result.merged(
                find_imports(
                    text, path=script.path, cell=cell, toplevel=toplevel, fast=fast, target=target
                )
            )
        out.append(result)
    return out


def _worker_count(paths: Sequence[str], workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    if len(paths) < _PARALLEL_MIN_FILES:
        return 1
    size = 0
    for path in paths:
        try:
            size += Path(path).stat().st_size
        except OSError:
            pass
    if size < _PARALLEL_MIN_BYTES:
        return 1
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def scan_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    toplevel: bool = False,
    fast: bool = True,
    workers: int | None = None,
    target: Target | None = None,
) -> dict[str, FileImports]:
    """The imports of many files (``.py`` or ``.ipynb``), keyed by path as given.

    *workers* processes share the files; by default one process is used for small inputs
    and one per available core from 64 files and 1 MB on (process start-up costs about
    as much as parsing 0.2 MB).  Raises the first error met (:class:`ParseFailed`,
    :class:`~poncho_analyze.errors.SourceError`).
    """
    names = [os.fspath(p) for p in paths]
    count = min(_worker_count(names, workers), len(names)) if names else 1
    if count <= 1:
        return dict(zip(names, _scan_batch(names, toplevel, fast, target), strict=True))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Interleaved batches balance the load (big files cluster in a tree); few batches
    # per worker keep pickling cheap.
    batches = [names[i :: count * 4] for i in range(count * 4)]
    context = multiprocessing.get_context("forkserver")
    results: dict[str, FileImports] = {}
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures = [
            pool.submit(_scan_batch, batch, toplevel, fast, target) for batch in batches if batch
        ]
        for batch, future in zip([b for b in batches if b], futures, strict=True):
            results.update(zip(batch, future.result(), strict=True))
    return {name: results[name] for name in names}

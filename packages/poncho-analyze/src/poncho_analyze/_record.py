"""What both import walks record, and how (the :mod:`ast` walk of
:mod:`poncho_analyze._ast_walk` and the libcst walk of :mod:`poncho_analyze._cst_walk`
differ only in the trees they read).

The record holds the imports found, the functions met, the notes about dynamic imports
with a computed name, and the imports of branches the target never takes, each with the
reason.  The walks tell it where they are: inside a ``def``/``class`` that
``--toplevel`` discards, inside a dead branch.
"""

from __future__ import annotations

from poncho_analyze._conditions import Target
from poncho_analyze._found import FileImports, Import, Scope

__all__ = ["DYNAMIC_FUNCS", "IMPORT_ERRORS", "Record"]

IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
"""Exception names whose handler makes the imports of its ``try`` optional."""
DYNAMIC_FUNCS = frozenset({"__import__", "import_module"})
"""Functions whose literal first argument is an import."""


class Record:
    """The imports of one text (a file or a notebook cell), as a walk finds them."""

    def __init__(
        self,
        path: str,
        cell: int | None,
        *,
        toplevel: bool,
        dynamic: bool,
        target: Target | None,
        reraise: bool,
    ) -> None:
        self.path = path
        self.cell = cell
        self.toplevel = toplevel
        self.dynamic = dynamic
        """Whether the text may call ``__import__``/``import_module`` (else calls are
        not looked for)."""
        self.target = target
        self.reraise = reraise
        """Whether a handler that always raises again leaves the import required (a
        shim that only rewords the error)."""
        self.imports: list[Import] = []
        self.functions: set[Scope] = set()
        self.notes: list[str] = []
        self.dropped: list[tuple[Import, str]] = []
        self._discarding = 0
        self._dead: list[str] = []

    def result(self) -> FileImports:
        """What was recorded."""
        return FileImports(
            tuple(self.imports), frozenset(self.functions), tuple(self.notes), tuple(self.dropped)
        )

    def where(self, line: int) -> str:
        """``file:line`` or ``notebook:cell N:line``."""
        if self.cell is None:
            return f"{self.path}:{line}"
        return f"{self.path}:cell {self.cell}:{line}"

    def add(self, line: int, scope: Scope, optional: bool, **kw: object) -> None:
        """Record an import at *line* (``module``, ``names``, ``level``... in *kw*)."""
        if self._discarding:
            return
        found = Import(
            path=self.path,
            line=line,
            cell=self.cell,
            scope=scope,
            optional=optional,
            **kw,  # type: ignore[arg-type]
        )
        if self._dead:
            self.dropped.append((found, self._dead[-1]))
        else:
            self.imports.append(found)

    def add_dynamic(self, line: int, scope: Scope, optional: bool, name: str | None) -> None:
        """Record ``__import__(name)`` / ``import_module(name)``: an import when *name*
        is a literal, a note when it is computed."""
        if name is None or not name.strip("."):
            self.notes.append(
                f"{self.where(line)}: dynamic import with a computed name, not followed"
            )
            return
        stripped = name.lstrip(".")
        self.add(
            line, scope, optional, module=stripped, level=len(name) - len(stripped), dynamic=True
        )

    # Entered and left by hand, not with a context manager: the walks call these for every
    # ``def``, ``class`` and ``if`` of large trees.  An exception abandons the whole record.

    def enter_nested(self) -> None:
        """Inside a ``def`` or ``class`` (discarded with ``toplevel``) until
        :meth:`leave_nested`."""
        self._discarding += self.toplevel

    def leave_nested(self) -> None:
        """Out of the ``def`` or ``class`` again."""
        self._discarding -= self.toplevel

    def enter_branch(self, dead: str | None) -> None:
        """Inside a branch until :meth:`leave_branch` (with the same *dead*): *dead* says
        why the target never takes it (None: it may)."""
        if dead is not None:
            self._dead.append(dead)

    def leave_branch(self, dead: str | None) -> None:
        """Out of the branch again."""
        if dead is not None:
            self._dead.pop()

    def dead_branches(
        self, code: str, type_checking: bool, truth: bool | None
    ) -> tuple[str | None, str | None]:
        """Why the body and the ``else`` of ``if <code>:`` are never taken, for a test
        whose value on the target is *truth* (None for a branch that may be taken)."""
        if type_checking and truth is False:
            because = f"under `if {code}:`, for type checkers only"
        else:
            label = self.target.label if self.target is not None else "the target"
            because = f"under `if {code}:`, {{}} for {label}"
        body = because.format("false") if truth is False else None
        orelse = (
            because.format("true").replace("under `if", "in the else of `if") if truth else None
        )
        return body, orelse

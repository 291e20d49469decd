"""What an import walk finds: :class:`Import`, :class:`FileImports` and their helpers.

The two walks (:mod:`poncho_analyze._ast_walk`, :mod:`poncho_analyze._cst_walk`) and
:mod:`poncho_analyze.imports` above them all speak these types; this module imports
nothing of the package, so none of them has to reach up for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FileImports", "Import", "Scope", "is_dynamic", "matches_function"]

Scope = tuple[tuple[str, str], ...]
"""Enclosing ``def``/``class`` statements, outermost first: ``(("class", "A"), ("def", "f"))``."""


@dataclass(frozen=True, order=True)
class Import:
    """One import found in a script.

    ``module`` is the dotted name as written, without the leading dots of a relative
    import (``level`` counts them); ``names`` are the names of ``from module import
    names`` (``("*",)`` for a star import, ``()`` for ``import module``).
    """

    module: str
    names: tuple[str, ...] = ()
    level: int = 0
    path: str = "<string>"
    line: int = 0
    cell: int | None = None
    scope: Scope = ()
    optional: bool = False
    dynamic: bool = False

    @property
    def location(self) -> str:
        """``file:line``, or ``notebook.ipynb:cell N:line`` for a notebook cell."""
        if self.cell is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:cell {self.cell}:{self.line}"

    @property
    def top(self) -> str:
        """The top-level module name (for ``from . import x``: ``x``)."""
        name = self.module or (self.names[0] if self.names else "")
        return name.split(".")[0]

    @property
    def display(self) -> str:
        """The import as a user would name it: ``a.b``, ``.sibling``, ``..pkg.mod``."""
        if self.level and not self.module:
            return "." * self.level + ",".join(self.names)
        return "." * self.level + self.module

    @property
    def candidates(self) -> tuple[str, ...]:
        """Dotted names this import may load, most specific first.

        ``from a.b import c`` may load the submodule ``a.b.c`` or take ``c`` from ``a.b``.
        """
        subs = tuple(f"{self.module}.{n}" for n in self.names if n != "*")
        return (*subs, self.module)

    @property
    def in_function(self) -> bool:
        """Whether the import runs only when a function is called."""
        return any(kind == "def" for kind, _ in self.scope)


@dataclass(frozen=True)
class FileImports:
    """The imports of one file (or notebook), and the functions it was seen to define.

    ``functions`` holds the scope of each ``def`` met on the way; in fast mode only the
    functions that hold an import are met.  ``notes`` tell about dynamic imports whose
    name is computed (they cannot be followed).
    """

    imports: tuple[Import, ...] = ()
    functions: frozenset[Scope] = field(default_factory=frozenset)
    notes: tuple[str, ...] = ()
    dropped: tuple[tuple[Import, str], ...] = ()
    """Imports in a branch the target never takes, each with the reason."""

    def merged(self, other: FileImports) -> FileImports:
        """Both results in one (cells of a notebook)."""
        return FileImports(
            self.imports + other.imports,
            self.functions | other.functions,
            self.notes + other.notes,
            self.dropped + other.dropped,
        )


def matches_function(scope: Scope, name: str) -> bool:
    """Whether *scope* lies inside the function *name* (``f`` or ``Class.method``)."""
    parts = name.split(".")
    names = [n for _, n in scope]
    width = len(parts)
    for i in range(len(scope) - width + 1):
        if names[i : i + width] == parts and scope[i + width - 1][0] == "def":
            return True
    return False


def is_dynamic(text: str) -> bool:
    """Whether *text* may call ``__import__`` or ``import_module``."""
    return "__import__" in text or "import_module" in text

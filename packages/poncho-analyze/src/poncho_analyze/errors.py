"""Errors raised by poncho-analyze."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poncho_spec import PonchoError

if TYPE_CHECKING:
    from poncho_analyze.specgen import Decision

__all__ = [
    "AnalyzeError",
    "FunctionNotFound",
    "LocalImports",
    "ParseFailed",
    "ScriptMetadataError",
    "SourceError",
    "UnresolvedImports",
]


class AnalyzeError(PonchoError):
    """Base class of the errors raised while analysing scripts.

    ``decisions`` holds what became of each import before the analysis stopped (empty
    when it stopped before deciding anything), so that ``--explain`` can show it.
    """

    decisions: tuple[Decision, ...] = ()


class SourceError(AnalyzeError, OSError):
    """A script cannot be read (missing, not text, a malformed notebook)."""


class ParseFailed(AnalyzeError, SyntaxError):
    """A script is not valid Python; the message names the file, line and column.

    The parts, for a caller that words its own message: ``where`` (the file, or
    ``notebook:cell N``), ``line``, ``reason`` (what is wrong, without the place) and
    ``needs``, the ``(3, minor)`` version whose grammar accepts the text when that is
    newer than the target's (None otherwise, or when the running parser cannot tell).
    """

    where: str = ""
    line: int = 0
    reason: str = ""
    needs: tuple[int, int] | None = None


class FunctionNotFound(AnalyzeError, LookupError):
    """``--function NAME`` names a function that no script defines."""


class ScriptMetadataError(AnalyzeError, ValueError):
    """PEP 723 inline metadata that is malformed or that the target Python does not meet."""


class LocalImports(AnalyzeError):
    """Imports of modules that live beside the scripts (or relative imports).

    ``imports`` lists ``(module, where)`` pairs, where is ``file:line``.
    """

    def __init__(self, message: str, imports: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.imports = imports


class UnresolvedImports(AnalyzeError, LookupError):
    """Imports that nothing installed provides; ``modules`` lists them."""

    def __init__(self, message: str, modules: list[str]) -> None:
        super().__init__(message)
        self.modules = modules

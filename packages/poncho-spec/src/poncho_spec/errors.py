"""Errors raised by poncho-spec; `PonchoError` (from poncho-core, re-exported here) is the
root of every Poncho package's errors."""

from __future__ import annotations

from dataclasses import dataclass

from poncho_core.errors import PonchoError

__all__ = ["InvalidSpec", "PonchoError", "Problem", "SpecNotFound"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (a JSON path such as ``conda.dependencies[2]``)
    and what. The path is ``""`` for the document as a whole."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidSpec(PonchoError, ValueError):
    """A spec that cannot be read or is not valid; `problems` lists every problem found.

    ``str(err)`` is one line per problem: ``"<source>: <path>: <message>"``.
    """

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(_one_line(f"{prefix}{problem}") for problem in self.problems)

    def __reduce__(self) -> tuple[type[InvalidSpec], tuple[list[Problem], str | None]]:
        return (type(self), (self.problems, self.source))


def _one_line(text: str) -> str:
    """`text` with every character that would break it into lines escaped."""
    if len(text.splitlines()) <= 1:
        return text
    return "".join(c if len(("x" + c + "x").splitlines()) == 1 else ascii(c)[1:-1] for c in text)


class SpecNotFound(PonchoError, FileNotFoundError):
    """The spec file does not exist; `path` names it."""

    def __init__(self, path: str, message: str | None = None) -> None:
        self.path = path
        super().__init__(message or f"{path}: spec file not found")

    def __reduce__(self) -> tuple[type[SpecNotFound], tuple[str, str]]:
        return (type(self), (self.path, str(self)))

"""The imports of a text that does not parse, read from its tokens (best effort).

Python 2 source (``print x``, ``except X, e:``), a mix of tabs and spaces, or syntax
newer than the target's: no parser takes the text, yet its import statements are plain.
:mod:`tokenize` cuts the text into logical lines; where it gives up (a ``TabError``, an
unindent that matches nothing, an unterminated string), the lines before are kept and
it starts again from the failing line (or the next one), so one bad line costs no
import.  Each logical line that starts with ``import`` or ``from`` (also after ``;``,
or after the ``:`` of a one-line ``if``/``try``...) is an import, and so are
``__import__("x")`` / ``import_module("x")`` with a literal name.

Indentation gives the blocks: imports inside a ``def``/``class`` carry its scope (so
``--toplevel`` and ``--function`` work), those in a ``try`` whose ``except`` catches
ImportError (or everything) are optional, and those under ``if TYPE_CHECKING:`` are
dropped.  Other conditions are not evaluated: an import under
``if sys.version_info[0] == 2:`` counts.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from poncho_analyze._found import FileImports, Import, Scope
from poncho_analyze._record import DYNAMIC_FUNCS, IMPORT_ERRORS

__all__ = ["recover_imports"]

_SKIPPED = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT})
_COMPOUND = frozenset(
    {"if", "elif", "else", "try", "except", "finally", "with", "for", "while", "def", "class"}
)
_TYPE_CHECKING = "under `if TYPE_CHECKING:`, for type checkers only"


@dataclass
class _Line:
    """One logical line: its indentation (tabs to 8 columns) and its tokens."""

    indent: int
    tokens: list[tokenize.TokenInfo]
    first: int
    """The line number of its first token, in the whole text."""

    def words(self) -> list[str]:
        return [t.string for t in self.tokens]


@dataclass
class _Block:
    indent: int
    kind: str
    name: str
    optional: bool
    dead: str | None


def recover_imports(
    text: str, *, path: str = "<string>", cell: int | None = None, toplevel: bool = False
) -> FileImports:
    """The imports of *text*, a script that no parser takes, from its tokens.

    *path* and *cell* label the results; with *toplevel*, the imports inside functions
    and classes are left out.  Never raises on any text.
    """
    lines = list(_logical_lines(text))
    found: list[Import] = []
    dropped: list[tuple[Import, str]] = []
    notes: list[str] = []
    functions: set[Scope] = set()
    stack: list[_Block] = []
    for index, line in enumerate(lines):
        while stack and stack[-1].indent >= line.indent:
            stack.pop()
        for segment, header in _segments(line.tokens):
            scope: Scope = tuple((b.kind, b.name) for b in stack if b.kind in ("def", "class"))
            optional = any(b.optional for b in stack)
            dead = next((b.dead for b in reversed(stack) if b.dead), None)
            kept = not (toplevel and scope)
            for kw in (*_statement(segment), *_dynamic(segment, notes, path, cell)):
                imp = Import(path=path, cell=cell, scope=scope, optional=optional, **kw)  # type: ignore[arg-type]
                if kept and dead:
                    dropped.append((imp, dead))
                elif kept:
                    found.append(imp)
            if header:
                block = _block(segment, line.indent, lines, index)
                stack.append(block)
                if block.kind == "def":
                    functions.add((*scope, ("def", block.name)))
    return FileImports(tuple(found), frozenset(functions), tuple(notes), tuple(dropped))


def _logical_lines(text: str) -> Iterator[_Line]:
    """The logical lines of *text*, tokenized again from the failing line when
    :mod:`tokenize` gives up."""
    # The tokenizer stops at a null byte and reports it on line 1.
    physical = text.replace("\0", " ").splitlines(keepends=True)
    start = 0  # index of the first physical line of this run
    while start < len(physical):
        pending: list[tokenize.TokenInfo] = []
        done: list[_Line] = []
        failed_at: int | None = None
        row = 1
        try:
            for tok in tokenize.generate_tokens(io.StringIO("".join(physical[start:])).readline):
                row = tok.start[0]
                if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                    if pending:
                        done.append(_line(pending))
                    pending = []
                elif tok.type not in _SKIPPED:
                    row, col = tok.start
                    pending.append(tok._replace(start=(start + row, col)))
        except (SyntaxError, ValueError, tokenize.TokenError) as exc:
            failed_at = _error_line(exc)
        except SystemError:  # CPython 3.13.0's tokenize on some bad input: no line given
            failed_at = row
        if failed_at is None:
            yield from done
            if pending:
                yield _line(pending)
            return
        # Keep what came before the failing line; start again from it, or after it when
        # it fails at once.
        bad = start + max(failed_at, 1)  # line number in the whole text
        kept = [t for t in pending if t.start[0] < bad]
        yield from (d for d in done if d.first < bad)
        if kept:
            yield _line(kept)
        start = bad - 1 if bad - 1 > start else start + 1


def _error_line(exc: Exception) -> int:
    if isinstance(exc, SyntaxError):
        return exc.lineno or 1
    position = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(position, tuple) and position and isinstance(position[0], int):
        return position[0]
    return 1


def _line(tokens: list[tokenize.TokenInfo]) -> _Line:
    first = tokens[0]
    indent = len(first.line[: first.start[1]].expandtabs(8)) if first.line else first.start[1]
    return _Line(indent, tokens, first.start[0])


def _segments(
    tokens: list[tokenize.TokenInfo],
) -> Iterator[tuple[list[tokenize.TokenInfo], bool]]:
    """The simple statements of a logical line, each with whether it is a compound
    statement's header (``if x:``); a one-line body after the header's ``:`` comes next."""
    compound = bool(tokens) and (
        tokens[0].string in _COMPOUND
        or (tokens[0].string == "async" and len(tokens) > 1 and tokens[1].string in _COMPOUND)
    )
    depth = 0
    current: list[tokenize.TokenInfo] = []
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth = max(0, depth - 1)
        if depth == 0 and tok.type == tokenize.OP and tok.string == ";":
            if current:
                yield current, False
            current = []
            continue
        current.append(tok)
        if compound and depth == 0 and tok.type == tokenize.OP and tok.string == ":":
            yield current, True
            current, compound = [], False
    if current:
        yield current, False


def _block(header: list[tokenize.TokenInfo], indent: int, lines: list[_Line], index: int) -> _Block:
    words = [t.string for t in header]
    if words[0] == "async":
        words = words[1:]
    kind = words[0]
    name = words[1] if kind in ("def", "class") and len(words) > 1 else ""
    dead = None
    if kind == "if" and words[1:] in (
        ["TYPE_CHECKING", ":"],
        ["typing", ".", "TYPE_CHECKING", ":"],
    ):
        dead = _TYPE_CHECKING
    optional = kind == "try" and _catches_import_error(indent, lines, index)
    return _Block(indent, kind, name, optional, dead)


def _catches_import_error(indent: int, lines: list[_Line], index: int) -> bool:
    """Whether an ``except`` clause of the ``try`` at *lines[index]* catches ImportError."""
    for line in lines[index + 1 :]:
        if line.indent > indent:
            continue
        words = line.words()
        if line.indent < indent or words[0] not in ("except", "else", "finally"):
            return False
        if words[0] == "except":
            clause = words[1 : words.index(":")] if ":" in words else words[1:]
            if not clause or clause == ["*"] or IMPORT_ERRORS & set(clause):
                return True
    return False


def _dotted(tokens: list[tokenize.TokenInfo], i: int) -> tuple[str, int]:
    """The dotted name starting at *tokens[i]*, and the index after it."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i].type == tokenize.NAME and tokens[i].string != "import":
        parts.append(tokens[i].string)
        if i + 1 < len(tokens) and tokens[i + 1].string == ".":
            i += 2
        else:
            i += 1
            break
    return ".".join(parts), i


def _statement(tokens: list[tokenize.TokenInfo]) -> Iterator[dict[str, object]]:
    """The imports of one simple statement, as ``Import`` keywords."""
    if not tokens or tokens[0].type != tokenize.NAME:
        return
    line = tokens[0].start[0]
    if tokens[0].string == "import":
        i = 1
        while i < len(tokens):
            module, i = _dotted(tokens, i)
            if module:
                yield {"module": module, "line": line}
            while i < len(tokens) and tokens[i].string != ",":
                i += 1  # `as name`
            i += 1
    elif tokens[0].string == "from":
        i, level = 1, 0
        while i < len(tokens) and tokens[i].string in (".", "..."):
            level += len(tokens[i].string)
            i += 1
        module, i = _dotted(tokens, i)
        if i >= len(tokens) or tokens[i].string != "import" or module == "__future__":
            return
        if not module and not level:
            return
        names = []
        rest = [t for t in tokens[i + 1 :] if t.string not in ("(", ")")]
        j = 0
        while j < len(rest):
            if rest[j].type == tokenize.NAME or rest[j].string == "*":
                names.append(rest[j].string)
            while j < len(rest) and rest[j].string != ",":
                j += 1
            j += 1
        yield {"module": module, "names": tuple(names), "level": level, "line": line}


def _dynamic(
    tokens: list[tokenize.TokenInfo], notes: list[str], path: str, cell: int | None
) -> Iterator[dict[str, object]]:
    """``__import__("x")`` / ``import_module("x")`` in one statement."""
    for i, tok in enumerate(tokens[:-1]):
        if tok.type != tokenize.NAME or tok.string not in DYNAMIC_FUNCS:
            continue
        if tokens[i + 1].string != "(" or (i > 0 and tokens[i - 1].string == "def"):
            continue
        line = tok.start[0]
        name = None
        if i + 2 < len(tokens) and tokens[i + 2].type == tokenize.STRING:
            try:
                with warnings.catch_warnings():  # an invalid escape: not a module name anyway
                    warnings.simplefilter("ignore")
                    value = ast.literal_eval(tokens[i + 2].string)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                value = None
            after = tokens[i + 3].string if i + 3 < len(tokens) else ""
            if isinstance(value, str) and after in (")", ","):
                name = value
        if name is None or not name.strip("."):
            where = f"{path}:{line}" if cell is None else f"{path}:cell {cell}:{line}"
            notes.append(f"{where}: dynamic import with a computed name, not followed")
            continue
        stripped = name.lstrip(".")
        yield {
            "module": stripped,
            "level": len(name) - len(stripped),
            "line": line,
            "dynamic": True,
        }

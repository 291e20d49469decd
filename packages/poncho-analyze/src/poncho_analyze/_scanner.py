"""Prune Python source to the statements that may hold an import, without parsing it.

libcst builds a Python object for every token, so parsing a whole file costs about ten
times ``ast.parse``.  Most of a file cannot hold an import: a statement can only import if
its code (not its strings or comments) contains ``import``, ``__import__`` or
``import_module``.  This module finds statement boundaries with a light lexer that only
knows strings and comments (the only places where a line start can be fake) and builds a
*skeleton* of the file: simple statements that may import are kept verbatim, compound
statements that hold one keep their headers (``def f(...):``, ``try:``, ``except
ImportError:``, ``if TYPE_CHECKING:``...) and their pruned bodies (``pass`` where nothing is
left), everything else is dropped.  The skeleton has the same imports in the same
functions, classes, conditions and ``try`` blocks as the file, at a tenth of its size; the
caller parses it with libcst in one go.

Whenever something does not look exactly like well-formed Python (an unterminated string,
an odd indentation), :class:`ScanError` is raised and the caller parses the whole file
instead, so the shortcut makes analysis faster but never different.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["ScanError", "Skeleton", "mentions_import", "skeleton"]

_IMPORT_WORD = re.compile(r"\bimport\b|__import__|import_module")
_IMPORT_KEYWORD = re.compile(r"\bimport\b")
_STRING_OR_COMMENT = re.compile(r"""[#'"]""")
_PREFIX_CHARS = frozenset("rRbBuUfFtT")
_PLAIN_END = {
    '"': re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"', re.S),
    "'": re.compile(r"[^'\\\n]*(?:\\.[^'\\\n]*)*'", re.S),
    '"""': re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""', re.S),
    "'''": re.compile(r"[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''", re.S),
}
_FSTRING_LITERAL = {
    '"': re.compile(r'[^{}\\"\n]*'),
    "'": re.compile(r"[^{}\\'\n]*"),
    '"""': re.compile(r'[^{}\\"]*'),
    "'''": re.compile(r"[^{}\\']*"),
}
_FSTRING_EXPR = re.compile(r"""(?:(?<!\w)[rRbBuUfFtT]{1,2})?(?:'''|\"\"\"|'|")|[\[\](){}:#]""")
_FORMAT_SPEC = re.compile(r"[^{}]*")
_HEADER_TOKEN = re.compile(r"[()\[\]{}:]")
_COMPOUND = re.compile(r"(?:async[ \t]+)?(def|class|if|for|while|with|try|match|case)\b|@")
_CLAUSE = re.compile(r"(?:else|elif|except|finally)\b")
_CODE_LINE = re.compile(r"^([ \t]*)[^\s#]", re.M)
_STATEMENT_START: dict[str, re.Pattern[str]] = {}


class ScanError(Exception):
    """The text cannot be cut safely; the caller parses it whole."""


@dataclass(frozen=True)
class Skeleton:
    """The pruned source.

    ``import_lines`` holds the original line of each ``import`` keyword of ``text`` in
    order (one per import statement); ``line_map[i]`` is the original line of the
    skeleton's line ``i + 1``.
    """

    text: str
    import_lines: tuple[int, ...]
    line_map: tuple[int, ...]


def mentions_import(text: str) -> bool:
    """Whether *text* contains a word that any import needs."""
    return _IMPORT_WORD.search(text) is not None


class _Source:
    """The text with its string and comment spans, for the boundary questions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._lex()

    def inside(self, pos: int) -> bool:
        """Whether *pos* lies strictly inside a string or comment."""
        k = bisect_right(self.starts, pos) - 1
        return k >= 0 and self.starts[k] < pos < self.ends[k]

    def _lex(self) -> None:
        text = self.text
        pos = 0
        while True:
            m = _STRING_OR_COMMENT.search(text, pos)
            if m is None:
                return
            start = m.start()
            if m.group() == "#":
                end = text.find("\n", start)
                end = len(text) if end < 0 else end
            else:
                quote = text[start : start + 3]
                if quote not in ('"""', "'''"):
                    quote = quote[0]
                # A string prefix is one or two letters right before the quote that do
                # not end a longer name ("rb'x'" but not "elif'x'").
                while start > 0 and text[start - 1] in _PREFIX_CHARS and pos <= start - 1:
                    start -= 1
                if m.start() - start > 2 or (
                    start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")
                ):
                    start = m.start()
                end = self._string_end(text[start : m.start()] + quote, m.start() + len(quote))
            self.starts.append(start)
            self.ends.append(end)
            pos = end

    def _string_end(self, token: str, pos: int) -> int:
        quote = token.lstrip("rRbBuUfFtT")
        prefix = token[: len(token) - len(quote)].lower()
        if "f" in prefix or "t" in prefix:
            return self._fstring_end(pos, quote, raw="r" in prefix)
        m = _PLAIN_END[quote].match(self.text, pos)
        if m is None:
            raise ScanError("unterminated string")
        return m.end()

    def _fstring_end(self, pos: int, quote: str, *, raw: bool) -> int:
        text = self.text
        literal = _FSTRING_LITERAL[quote]
        n = len(text)
        while True:
            pos = literal.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                raise ScanError("unterminated f-string")
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1 : pos + 2]
                if not raw and nxt == "N" and text[pos + 2 : pos + 3] == "{":
                    close = text.find("}", pos)
                    if close < 0:
                        raise ScanError("bad \\N escape")
                    pos = close + 1
                elif nxt in ("\\", "\n", "'", '"'):
                    pos += 2
                else:
                    pos += 1
            elif c == "{":
                if text.startswith("{{", pos):
                    pos += 2
                else:
                    pos = self._replacement_field_end(pos + 1)
            elif c == "}":
                pos += 2 if text.startswith("}}", pos) else 1
            elif c == "\n":
                raise ScanError("newline in a single-quoted f-string")
            elif text.startswith(quote, pos):
                return pos + len(quote)
            else:  # one quote character inside a triple-quoted f-string
                pos += 1

    def _replacement_field_end(self, pos: int) -> int:
        """Skip ``expr[!conv][:spec]}`` of an f-string; return the offset after ``}``."""
        text = self.text
        depth = 0
        while True:
            m = _FSTRING_EXPR.search(text, pos)
            if m is None:
                raise ScanError("unterminated f-string replacement field")
            token = m.group()
            pos = m.end()
            if token in "([{":
                depth += 1
            elif token in ")]":
                depth -= 1
                if depth < 0:
                    raise ScanError("unbalanced brackets in an f-string")
            elif token == "}":
                if depth == 0:
                    return pos
                depth -= 1
            elif token == ":":
                if depth == 0:
                    return self._format_spec_end(pos)
            elif token == "#":
                end = text.find("\n", pos)
                if end < 0:
                    raise ScanError("unterminated f-string")
                pos = end
            else:
                pos = self._string_end(token, pos)

    def _format_spec_end(self, pos: int) -> int:
        text = self.text
        while True:
            pos = _FORMAT_SPEC.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= len(text):
                raise ScanError("unterminated format spec")
            if text[pos] == "}":
                return pos + 1
            pos = self._replacement_field_end(pos + 1)


def _statement_start(indent: str) -> re.Pattern[str]:
    pattern = _STATEMENT_START.get(indent)
    if pattern is None:
        pattern = re.compile("^" + re.escape(indent) + r"(?=[^\s#)\]}])", re.M)
        _STATEMENT_START[indent] = pattern
    return pattern


_EXCEPT = re.compile(r"except\b")


class _Pruner:
    def __init__(self, source: _Source, *, toplevel: bool, handlers: bool = False) -> None:
        self.src = source
        self.toplevel = toplevel
        self.handlers = handlers
        self.pieces: list[str] = []
        self.import_lines: list[int] = []
        self.line_map: list[int] = []

    def statements(self, lo: int, hi: int, indent: str) -> list[list[int]]:
        """The statements starting at *indent* between *lo* and *hi*: for each, the
        start of each clause (``else:``... at the same indent), then the end."""
        src = self.src
        text = src.text
        size = len(indent)
        found: list[list[int]] = []
        decorated = False
        for m in _statement_start(indent).finditer(text, lo, hi):
            pos = m.start()
            if src.inside(pos) or (pos >= 2 and text[pos - 2] == "\\" and not src.inside(pos - 2)):
                continue
            if found and decorated:
                decorated = text[pos + size] == "@"
                continue
            decorated = text[pos + size] == "@"
            if found and _CLAUSE.match(text, pos + size):
                found[-1].append(pos)
            else:
                found.append([pos])
        first = self._first_code(lo, hi)
        if not found:
            if first >= 0:
                raise ScanError("code before the first statement of a block")
            return []
        if found[0][0] != first:
            raise ScanError("code before the first statement of a block")
        for here, after in itertools.pairwise(found):
            here.append(after[0])
        found[-1].append(hi)
        return found

    def _first_code(self, lo: int, hi: int) -> int:
        for m in _CODE_LINE.finditer(self.src.text, lo, hi):
            if not self.src.inside(m.start()):
                return m.start()
        return -1

    def may_import(self, start: int, end: int) -> bool:
        for m in _IMPORT_WORD.finditer(self.src.text, start, end):
            if not self.src.inside(m.start()):
                return True
        return False

    def prune(self, lo: int, hi: int, indent: str) -> bool:
        """Keep what may import between *lo* and *hi*; whether anything was kept."""
        text = self.src.text
        kept = False
        for bounds in self.statements(lo, hi, indent):
            start, end = bounds[0], bounds[-1]
            if not self.may_import(start, end):
                continue
            m = _COMPOUND.match(text, self._after_decorators(start, end, indent))
            if m is None:
                self.keep(start, end)
            elif self.toplevel and m.group(1) in ("def", "class"):
                continue
            else:
                self.compound(bounds, indent, soft=m.group(1) in ("match", "case"))
            kept = True
        return kept

    def _after_decorators(self, start: int, end: int, indent: str) -> int:
        text = self.src.text
        pos = start + len(indent)
        if text[pos] != "@":
            return pos
        for nxt in _statement_start(indent).finditer(text, pos, end):
            p = nxt.start()
            if not self.src.inside(p) and text[p + len(indent)] != "@":
                return p + len(indent)
        raise ScanError("decorator without a statement")

    def compound(self, bounds: list[int], indent: str, *, soft: bool) -> None:
        text = self.src.text
        for cs, ce in itertools.pairwise(bounds):
            colon = self._header_end(cs, ce)
            if colon is None:
                if soft:  # "match" or "case" used as a name: a simple statement
                    self.keep(bounds[0], bounds[-1])
                    return
                raise ScanError("header without a colon")
            eol = text.find("\n", colon)
            eol = ce if eol < 0 or eol >= ce else eol + 1
            rest = text[colon + 1 : eol].strip()
            if (rest and not rest.startswith("#")) or (  # one-line body
                self.handlers and _EXCEPT.match(text, cs + len(indent))
            ):
                self.keep(cs, ce)
                continue
            self.keep(cs, eol)
            body_indent = self._body_indent(eol, ce, indent)
            if not self.prune(eol, ce, body_indent):
                self.pieces.append(f"{body_indent}pass\n")
                self.line_map.append(self.line_map[-1])

    def _body_indent(self, lo: int, hi: int, indent: str) -> str:
        for line in _CODE_LINE.finditer(self.src.text, lo, hi):
            if self.src.inside(line.start()):
                continue
            body = line.group(1)
            if len(body) <= len(indent) or not body.startswith(indent):
                raise ScanError("odd indentation")
            return body
        raise ScanError("block without a body")

    def _header_end(self, pos: int, end: int) -> int | None:
        depth = 0
        for m in _HEADER_TOKEN.finditer(self.src.text, pos, end):
            if self.src.inside(m.start()):
                continue
            token = m.group()
            if token == ":":
                if depth == 0:
                    return m.start()
            elif token in "([{":
                depth += 1
            else:
                depth -= 1
        return None

    def keep(self, start: int, end: int) -> None:
        src = self.src
        text = src.text
        piece = text[start:end]
        if not piece.endswith("\n"):
            piece += "\n"
        line = text.count("\n", 0, start) + 1
        pos, at = start, line
        for m in _IMPORT_KEYWORD.finditer(text, start, end):
            if not src.inside(m.start()):
                at += text.count("\n", pos, m.start())
                pos = m.start()
                self.import_lines.append(at)
        self.pieces.append(piece)
        self.line_map.extend(range(line, line + piece.count("\n")))


def skeleton(text: str, *, toplevel: bool = False, handlers: bool = False) -> Skeleton:
    """The statements of *text* that may hold an import, with their enclosing headers.

    With *toplevel*, ``def`` and ``class`` statements are dropped (their imports do not
    run when the module is executed).  With *handlers*, the ``except`` clauses of a kept
    ``try`` are kept whole (to see whether they raise again).  Raises
    :class:`ScanError` when the text cannot be pruned safely.  *text* must use ``\n``
    line ends.
    """
    pruner = _Pruner(_Source(text), toplevel=toplevel, handlers=handlers)
    pruner.prune(0, len(text), "")
    return Skeleton("".join(pruner.pieces), tuple(pruner.import_lines), tuple(pruner.line_map))

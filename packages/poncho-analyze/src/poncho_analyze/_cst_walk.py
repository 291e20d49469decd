"""The libcst walk over a file's import statements (see :mod:`poncho_analyze.imports`).

libcst parses code of any Python 3 version whatever the running interpreter, but it is
slow when used naively (about ten times ``ast.parse``), and slow to import.  It is used
when the running interpreter cannot parse the text (newer syntax than its own), on the
*skeleton* of the file (see :mod:`poncho_analyze._scanner`), walked by hand along
statement lists; expressions are visited only in statements that mention
``__import__`` or ``import_module``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from poncho_analyze._conditions import Target, evaluate_code
from poncho_analyze._scanner import ScanError, skeleton
from poncho_analyze.errors import ParseFailed
from poncho_analyze.imports import (
    _DYNAMIC_FUNCS,
    _IMPORT_ERRORS,
    FileImports,
    Import,
    Scope,
    is_dynamic,
)

__all__ = ["parse_skeleton", "parse_whole"]


class _Lines:
    """Line numbers for nodes, from libcst positions (exact, but costly to compute)."""

    def __init__(self, base: int, positions: Mapping[cst.CSTNode, CodeRange]) -> None:
        self.base = base
        self.positions = positions

    def __call__(self, node: cst.CSTNode) -> int:
        return self.base + self.positions[node].start.line - 1


class _KeywordLines(_Lines):
    """Line numbers of import statements from the scanner's ``import`` keyword lines.

    Each import statement has exactly one ``import`` keyword, and the walk meets the
    statements in source order, so the n-th statement asked for is on the n-th line.
    """

    def __init__(self, lines: tuple[int, ...]) -> None:
        self.lines = lines
        self.used = 0

    def __call__(self, node: cst.CSTNode) -> int:
        if self.used >= len(self.lines):
            raise ScanError("more import statements than import keywords")
        self.used += 1
        return self.lines[self.used - 1]


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _literal(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _catches_import_error(node: cst.BaseExpression | None) -> bool:
    if node is None:
        return True
    if isinstance(node, cst.Tuple):
        return any(_catches_import_error(e.value) for e in node.elements)
    return _dotted(node).rpartition(".")[2] in _IMPORT_ERRORS


def _is_type_checking(test: cst.BaseExpression) -> bool:
    return _dotted(test).rpartition(".")[2] == "TYPE_CHECKING"


def _suppresses_import_error(item: cst.WithItem) -> bool:
    call = item.item
    return (
        isinstance(call, cst.Call)
        and _dotted(call.func).rpartition(".")[2] == "suppress"
        and any(_catches_import_error(a.value) for a in call.args)
    )


class _Calls(cst.CSTVisitor):
    """Finds ``__import__(...)`` and ``import_module(...)`` calls in one node."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[cst.Call, str | None]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if _dotted(node.func).rpartition(".")[2] not in _DYNAMIC_FUNCS or not node.args:
            return
        first = node.args[0]
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "name":
                first = arg
        if first.keyword is not None and first.keyword.value != "name":
            return
        self.found.append((node, _literal(first.value)))

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return False

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        return False


class _Collector:
    """Walks statement lists by hand and records the imports."""

    def __init__(
        self,
        path: str,
        cell: int | None,
        *,
        toplevel: bool,
        dynamic: bool,
        target: Target | None = None,
    ) -> None:
        self.path = path
        self.cell = cell
        self.toplevel = toplevel
        self.dynamic = dynamic
        self.target = target
        self.imports: list[Import] = []
        self.functions: set[Scope] = set()
        self.notes: list[str] = []
        self.dropped: list[tuple[Import, str]] = []
        self.discarding = 0
        self.dead: list[str] = []
        # A handler that always raises again does not make the import optional (a shim
        # that only rewords the error).
        self.reraise = False  # whole-file parses and skeletons with their handlers

    def result(self) -> FileImports:
        return FileImports(
            tuple(self.imports), frozenset(self.functions), tuple(self.notes), tuple(self.dropped)
        )

    def truth(self, test: cst.BaseExpression) -> bool | None:
        if self.target is None:  # only what never runs whatever the target
            return False if _is_type_checking(test) else None
        return evaluate_code(cst.Module([]).code_for_node(test), self.target)

    def branch(
        self, suite: cst.BaseSuite, dead: str | None, scope: Scope, optional: bool, lines: _Lines
    ) -> None:
        if dead is not None:
            self.dead.append(dead)
        self.suite(suite, scope, optional, lines)
        if dead is not None:
            self.dead.pop()

    def condition(self, st: cst.If, scope: Scope, optional: bool, lines: _Lines) -> None:
        self.header([st.test], scope, optional, lines)
        truth = self.truth(st.test)
        code = " ".join(cst.Module([]).code_for_node(st.test).split())
        if _is_type_checking(st.test) and truth is False:
            because = f"under `if {code}:`, for type checkers only"
        else:
            label = self.target.label if self.target is not None else "the target"
            because = f"under `if {code}:`, {{}} for {label}"
        self.branch(
            st.body, because.format("false") if truth is False else None, scope, optional, lines
        )
        dead = because.format("true").replace("under `if", "in the else of `if") if truth else None
        if isinstance(st.orelse, cst.If):
            if dead is not None:
                self.dead.append(dead)
            self.statement(st.orelse, scope, optional, lines)
            if dead is not None:
                self.dead.pop()
        elif st.orelse is not None:
            self.branch(st.orelse.body, dead, scope, optional, lines)

    def add(
        self, lines: _Lines, node: cst.CSTNode, scope: Scope, optional: bool, **kw: object
    ) -> None:
        line = lines(node)  # always asked: _KeywordLines counts the statements
        if self.discarding:
            return
        found = Import(
            path=self.path,
            line=line,
            cell=self.cell,
            scope=scope,
            optional=optional,
            **kw,  # type: ignore[arg-type]
        )
        if self.dead:
            self.dropped.append((found, self.dead[-1]))
        else:
            self.imports.append(found)

    def statements(
        self,
        body: Sequence[cst.BaseStatement | cst.BaseSmallStatement],
        scope: Scope,
        optional: bool,
        lines: _Lines,
    ) -> None:
        for st in body:
            self.statement(st, scope, optional, lines)

    def suite(self, suite: cst.BaseSuite, scope: Scope, optional: bool, lines: _Lines) -> None:
        self.statements(suite.body, scope, optional, lines)

    def header(
        self, nodes: Iterable[cst.CSTNode | None], scope: Scope, optional: bool, lines: _Lines
    ) -> None:
        if not self.dynamic:
            return
        for node in nodes:
            if node is not None:
                self.calls(node, scope, optional, lines)

    def calls(self, node: cst.CSTNode, scope: Scope, optional: bool, lines: _Lines) -> None:
        visitor = _Calls()
        node.visit(visitor)
        for call, name in visitor.found:
            if name is None or not name.strip("."):
                where = (
                    f"{self.path}:{lines(call)}"
                    if self.cell is None
                    else (f"{self.path}:cell {self.cell}:{lines(call)}")
                )
                self.notes.append(f"{where}: dynamic import with a computed name, not followed")
                continue
            stripped = name.lstrip(".")
            self.add(
                lines,
                call,
                scope,
                optional,
                module=stripped,
                level=len(name) - len(stripped),
                dynamic=True,
            )

    def statement(
        self,
        st: cst.BaseStatement | cst.BaseSmallStatement,
        scope: Scope,
        optional: bool,
        lines: _Lines,
    ) -> None:
        if isinstance(st, cst.SimpleStatementLine):
            self.statements(st.body, scope, optional, lines)
        elif isinstance(st, cst.Import):
            for alias in st.names:
                self.add(lines, st, scope, optional, module=_dotted(alias.name))
        elif isinstance(st, cst.ImportFrom):
            module = _dotted(st.module) if st.module is not None else ""
            level = len(st.relative)
            if level == 0 and module == "__future__":
                lines(st)
                return
            if isinstance(st.names, cst.ImportStar):
                names: tuple[str, ...] = ("*",)
            else:
                names = tuple(_dotted(alias.name) for alias in st.names)
            self.add(lines, st, scope, optional, module=module, names=names, level=level)
        elif isinstance(st, cst.BaseSmallStatement):
            if self.dynamic:
                self.calls(st, scope, optional, lines)
        elif isinstance(st, (cst.FunctionDef, cst.ClassDef)):
            self.define(st, scope, optional, lines)
        elif isinstance(st, cst.If):
            self.condition(st, scope, optional, lines)
        elif isinstance(st, (cst.Try, cst.TryStar)):
            self.trying(st, scope, optional, lines)
        elif isinstance(st, cst.With):
            self.header([item.item for item in st.items], scope, optional, lines)
            guarded = optional or any(_suppresses_import_error(i) for i in st.items)
            self.suite(st.body, scope, guarded, lines)
        elif isinstance(st, (cst.For, cst.While)):
            head = [st.iter] if isinstance(st, cst.For) else [st.test]
            self.header(head, scope, optional, lines)
            self.suite(st.body, scope, optional, lines)
            if st.orelse is not None:
                self.suite(st.orelse.body, scope, optional, lines)
        elif isinstance(st, cst.Match):
            self.header([st.subject], scope, optional, lines)
            for case in st.cases:
                self.header([case.guard], scope, optional, lines)
                self.suite(case.body, scope, optional, lines)
        elif self.dynamic:  # a statement kind libcst may add later
            self.calls(st, scope, optional, lines)

    def define(
        self, st: cst.FunctionDef | cst.ClassDef, scope: Scope, optional: bool, lines: _Lines
    ) -> None:
        decorators = [d.decorator for d in st.decorators]
        if isinstance(st, cst.FunctionDef):
            self.header([*decorators, st.params, st.returns], scope, optional, lines)
            inner: Scope = (*scope, ("def", st.name.value))
            self.functions.add(inner)
            optional = False  # a guard around the def does not guard the call
        else:
            self.header([*decorators, *st.bases, *st.keywords], scope, optional, lines)
            inner = (*scope, ("class", st.name.value))
        self.discarding += self.toplevel
        self.suite(st.body, inner, optional, lines)
        self.discarding -= self.toplevel

    def trying(
        self, st: cst.Try | cst.TryStar, scope: Scope, optional: bool, lines: _Lines
    ) -> None:
        guarded = optional or any(
            _catches_import_error(h.type) and not (self.reraise and _always_raises(h.body))
            for h in st.handlers
        )
        self.suite(st.body, scope, guarded, lines)
        for handler in st.handlers:
            self.header([handler.type], scope, optional, lines)
            self.suite(handler.body, scope, optional, lines)
        if st.orelse is not None:
            self.suite(st.orelse.body, scope, optional, lines)
        if st.finalbody is not None:
            self.suite(st.finalbody.body, scope, optional, lines)


def _always_raises(suite: cst.BaseSuite) -> bool:
    """Whether every path through *suite* ends in a ``raise``."""
    if not suite.body:
        return False
    last = suite.body[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return bool(last.body) and isinstance(last.body[-1], cst.Raise)
    if isinstance(last, cst.SimpleStatementSuite):  # pragma: no cover - not a statement
        return False
    if isinstance(last, cst.If):
        other = last.orelse
        if other is None:
            return False
        rest = (
            _always_raises(cst.IndentedBlock(body=[other]))
            if isinstance(other, cst.If)
            else _always_raises(other.body)
        )
        return _always_raises(last.body) and rest
    return False


def _syntax_error(path: str, cell: int | None, err: cst.ParserSyntaxError) -> ParseFailed:
    where = path if cell is None else f"{path}:cell {cell}"
    message = err.message.rstrip(".")
    return ParseFailed(f"{where}:{err.raw_line}:{err.raw_column + 1}: invalid syntax: {message}")


def parse_whole(
    text: str,
    path: str,
    cell: int | None,
    toplevel: bool,
    target: Target | None,
    reraise: bool = False,
) -> FileImports:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as err:
        raise _syntax_error(path, cell, err) from None
    collector = _Collector(path, cell, toplevel=toplevel, dynamic=is_dynamic(text), target=target)
    collector.reraise = reraise
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    collector.statements(module.body, (), False, _Lines(1, positions))
    return collector.result()


class _MappedLines(_Lines):
    """Line numbers from libcst positions in the skeleton, mapped back to the file."""

    def __init__(
        self, positions: Mapping[cst.CSTNode, CodeRange], line_map: tuple[int, ...]
    ) -> None:
        super().__init__(1, positions)
        self.line_map = line_map

    def __call__(self, node: cst.CSTNode) -> int:
        return self.line_map[super().__call__(node) - 1]


def parse_skeleton(
    text: str,
    path: str,
    cell: int | None,
    toplevel: bool,
    target: Target | None,
    reraise: bool = False,
) -> FileImports | None:
    try:
        pruned = skeleton(text, toplevel=toplevel, handlers=reraise)
    except ScanError:
        return None
    if not pruned.text:
        return FileImports()
    try:
        module = cst.parse_module(pruned.text)
    except cst.ParserSyntaxError:
        return None
    dynamic = is_dynamic(pruned.text)
    collector = _Collector(path, cell, toplevel=toplevel, dynamic=dynamic, target=target)
    collector.reraise = reraise
    lines: _Lines
    if dynamic:
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        lines = _MappedLines(positions, pruned.line_map)
    else:
        lines = _KeywordLines(pruned.import_lines)
    try:
        collector.statements(module.body, (), False, lines)
    except ScanError:
        return None
    if isinstance(lines, _KeywordLines) and lines.used != len(lines.lines):
        return None
    return collector.result()

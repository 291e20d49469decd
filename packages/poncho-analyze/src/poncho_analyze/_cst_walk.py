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
from poncho_analyze._found import FileImports, Scope, is_dynamic
from poncho_analyze._record import DYNAMIC_FUNCS, IMPORT_ERRORS, Record
from poncho_analyze._scanner import ScanError, skeleton
from poncho_analyze.errors import ParseFailed

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
    return _dotted(node).rpartition(".")[2] in IMPORT_ERRORS


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
        if _dotted(node.func).rpartition(".")[2] not in DYNAMIC_FUNCS or not node.args:
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


class _Collector(Record):
    """Walks statement lists by hand and records the imports."""

    def truth(self, test: cst.BaseExpression) -> bool | None:
        if self.target is None:  # only what never runs whatever the target
            return False if _is_type_checking(test) else None
        return evaluate_code(cst.Module([]).code_for_node(test), self.target)

    def condition(self, st: cst.If, scope: Scope, optional: bool, lines: _Lines) -> None:
        self.header([st.test], scope, optional, lines)
        truth = self.truth(st.test)
        code = " ".join(cst.Module([]).code_for_node(st.test).split())
        body, orelse = self.dead_branches(code, _is_type_checking(st.test), truth)
        self.enter_branch(body)
        self.suite(st.body, scope, optional, lines)
        self.leave_branch(body)
        self.enter_branch(orelse)
        if isinstance(st.orelse, cst.If):
            self.statement(st.orelse, scope, optional, lines)
        elif st.orelse is not None:
            self.suite(st.orelse.body, scope, optional, lines)
        self.leave_branch(orelse)

    def found(
        self, lines: _Lines, node: cst.CSTNode, scope: Scope, optional: bool, **kw: object
    ) -> None:
        # lines() is always asked, even for a discarded import: _KeywordLines counts
        self.add(lines(node), scope, optional, **kw)

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
            self.add_dynamic(lines(call), scope, optional, name)

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
                self.found(lines, st, scope, optional, module=_dotted(alias.name))
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
            self.found(lines, st, scope, optional, module=module, names=names, level=level)
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
        self.enter_nested()
        self.suite(st.body, inner, optional, lines)
        self.leave_nested()

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
    collector = _Collector(
        path, cell, toplevel=toplevel, dynamic=is_dynamic(text), target=target, reraise=reraise
    )
    collector.statements(module.body, (), False, _Lines(1, _positions(module)))
    return collector.result()


def _positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


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
    collector = _Collector(
        path, cell, toplevel=toplevel, dynamic=dynamic, target=target, reraise=reraise
    )
    lines: _Lines
    if dynamic:
        lines = _MappedLines(_positions(module), pruned.line_map)
    else:
        lines = _KeywordLines(pruned.import_lines)
    try:
        collector.statements(module.body, (), False, lines)
    except ScanError:
        return None
    if isinstance(lines, _KeywordLines) and lines.used != len(lines.lines):
        return None
    return collector.result()

"""Find every import a piece of Python code can make, with libcst.

What counts: ``import a.b``, ``from a import b``, imports nested in functions, classes,
conditions and ``try`` blocks, and ``importlib.import_module("x")`` / ``__import__("x")``
with literal names.  Imports under ``if TYPE_CHECKING:`` and ``from __future__ import``
are left out.  An import inside ``try:`` with an ``except ImportError`` (or a broader)
handler, or under ``with suppress(ImportError):``, is marked *optional*.

libcst parses code of any Python 3 version whatever the running interpreter, but it is
slow when used naively (about ten times ``ast.parse``).  By default only the statements
that may hold an import are parsed (see :mod:`poncho_analyze._scanner`), all of them at
once, and the tree is walked by hand along statement lists instead of with a visitor;
expressions are visited only in statements that mention ``__import__`` or
``import_module``.  Whenever the cutting is in doubt the whole file is parsed, so the
result never depends on the shortcut (``fast=False`` always parses whole files).
:func:`scan_files` adds a process pool for large trees.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from poncho_analyze._conditions import Target, evaluate, flag_names
from poncho_analyze._scanner import ScanError, mentions_import, skeleton
from poncho_analyze.errors import ParseFailed

__all__ = [
    "FileImports", "Import", "find_imports", "matches_function", "required_imports", "scan_files",
]  # fmt: skip

Scope = tuple[tuple[str, str], ...]
"""Enclosing ``def``/``class`` statements, outermost first: ``(("class", "A"), ("def", "f"))``."""

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_DYNAMIC_FUNCS = frozenset({"__import__", "import_module"})
_PARALLEL_MIN_FILES = 64
_PARALLEL_MIN_BYTES = 1_000_000


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
        self, path: str, cell: int | None, *, toplevel: bool, dynamic: bool,
        target: Target | None = None,
    ) -> None:  # fmt: skip
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
        # that only rewords the error).  Only whole-file parses see handler bodies.
        self.reraise = False

    def result(self) -> FileImports:
        return FileImports(tuple(self.imports), frozenset(self.functions), tuple(self.notes),
                           tuple(self.dropped))  # fmt: skip

    def truth(self, test: cst.BaseExpression) -> bool | None:
        if self.target is None:  # only what never runs whatever the target
            return False if _is_type_checking(test) else None
        return evaluate(test, self.target)

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
        self.branch(st.body, because.format("false") if truth is False else None, scope,
                    optional, lines)  # fmt: skip
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
            path=self.path, line=line, cell=self.cell, scope=scope,
            optional=optional, **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        if self.dead:
            self.dropped.append((found, self.dead[-1]))
        else:
            self.imports.append(found)

    def statements(
        self, body: Sequence[cst.BaseStatement | cst.BaseSmallStatement], scope: Scope,
        optional: bool, lines: _Lines,
    ) -> None:  # fmt: skip
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
                where = f"{self.path}:{lines(call)}" if self.cell is None else (
                    f"{self.path}:cell {self.cell}:{lines(call)}")  # fmt: skip
                self.notes.append(f"{where}: dynamic import with a computed name, not followed")
                continue
            stripped = name.lstrip(".")
            self.add(lines, call, scope, optional, module=stripped,
                     level=len(name) - len(stripped), dynamic=True)  # fmt: skip

    def statement(
        self, st: cst.BaseStatement | cst.BaseSmallStatement, scope: Scope, optional: bool,
        lines: _Lines,
    ) -> None:  # fmt: skip
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


def _parse_whole(
    text: str, path: str, cell: int | None, toplevel: bool, target: Target | None,
    reraise: bool = False,
) -> FileImports:  # fmt: skip
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as err:
        raise _syntax_error(path, cell, err) from None
    collector = _Collector(path, cell, toplevel=toplevel, dynamic=_is_dynamic(text), target=target)
    collector.reraise = reraise
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    collector.statements(module.body, (), False, _Lines(1, positions))
    return collector.result()


def _is_dynamic(text: str) -> bool:
    return "__import__" in text or "import_module" in text


class _MappedLines(_Lines):
    """Line numbers from libcst positions in the skeleton, mapped back to the file."""

    def __init__(
        self, positions: Mapping[cst.CSTNode, CodeRange], line_map: tuple[int, ...]
    ) -> None:
        super().__init__(1, positions)
        self.line_map = line_map

    def __call__(self, node: cst.CSTNode) -> int:
        return self.line_map[super().__call__(node) - 1]


def _parse_skeleton(
    text: str, path: str, cell: int | None, toplevel: bool, target: Target | None
) -> FileImports | None:
    try:
        pruned = skeleton(text, toplevel=toplevel)
    except ScanError:
        return None
    if not pruned.text:
        return FileImports()
    try:
        module = cst.parse_module(pruned.text)
    except cst.ParserSyntaxError:
        return None
    dynamic = _is_dynamic(pruned.text)
    collector = _Collector(path, cell, toplevel=toplevel, dynamic=dynamic, target=target)
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


def find_imports(
    text: str,
    *,
    path: str = "<string>",
    cell: int | None = None,
    toplevel: bool = False,
    fast: bool = True,
    target: Target | None = None,
) -> FileImports:
    """The imports in Python source *text*, in source order.

    *path* and *cell* only label the results and errors.  With *toplevel*, imports inside
    functions and classes are left out.  With *fast* (the default) only the statements
    that may hold an import are parsed, so a syntax error elsewhere goes unnoticed; with
    ``fast=False`` the whole text is parsed.  With a *target*, the imports of ``if``
    branches that it never takes (``sys.version_info``, ``sys.platform``...; see
    :mod:`poncho_analyze._conditions`) go to ``dropped``; without, only those under
    ``if TYPE_CHECKING:`` do.  Raises :class:`ParseFailed` for code that libcst cannot
    parse.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fast and not mentions_import(text):
        return FileImports()
    if target is not None:
        target = target.with_names(flag_names(text, target))
    if fast:
        found = _parse_skeleton(text, path, cell, toplevel, target)
        if found is not None:
            return found
    return _parse_whole(text, path, cell, toplevel, target)


def required_imports(text: str, path: str, target: Target | None = None) -> FileImports:
    """The imports a module makes whenever it is imported: at module level, not optional
    (a ``try`` whose ``except ImportError`` always raises again counts as required), not
    in a branch the *target* never takes.  Whole-file parse; ParseFailed on bad code."""
    if target is not None:
        target = target.with_names(flag_names(text, target))
    found = _parse_whole(text, path, None, True, target, reraise=True)
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

"""The fast walk over a file's imports, on the running interpreter's :mod:`ast`.

``ast.parse`` is written in C and ``ast`` imports in a few milliseconds, where libcst
takes a tenth of a second to import and several times longer to parse.  The running
interpreter parses any code of its own version and older ones, which is almost every
script; what it cannot parse (syntax newer than itself) goes to the libcst walk
(:mod:`poncho_analyze._cst_walk`), which finds the same imports: the tests hold both to
the same results.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from poncho_analyze._conditions import Target, evaluate, is_type_checking
from poncho_analyze._found import FileImports, Scope, is_dynamic
from poncho_analyze._record import DYNAMIC_FUNCS, IMPORT_ERRORS, Record

__all__ = ["collect"]

_TRY_TYPES: tuple[type[ast.stmt], ...] = (ast.Try,)
if hasattr(ast, "TryStar"):  # Python 3.11+
    _TRY_TYPES = (ast.Try, ast.TryStar)


def _dotted(node: ast.expr | None) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _catches_import_error(node: ast.expr | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_catches_import_error(e) for e in node.elts)
    return _dotted(node).rpartition(".")[2] in IMPORT_ERRORS


def _suppresses_import_error(item: ast.withitem) -> bool:
    call = item.context_expr
    return (
        isinstance(call, ast.Call)
        and _dotted(call.func).rpartition(".")[2] == "suppress"
        and any(_catches_import_error(a) for a in call.args)
    )


def _always_raises(body: Sequence[ast.stmt]) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Raise):
        return True
    if isinstance(last, ast.If):
        return bool(last.orelse) and _always_raises(last.body) and _always_raises(last.orelse)
    return False


def _string(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Walk(Record):
    def __init__(
        self,
        text: str,
        path: str,
        cell: int | None,
        *,
        toplevel: bool,
        target: Target | None,
        reraise: bool,
    ) -> None:
        super().__init__(
            path, cell, toplevel=toplevel, dynamic=is_dynamic(text), target=target, reraise=reraise
        )
        self.text = text
        self._lines: list[str] | None = None

    def source(self, node: ast.expr) -> str:
        """The source of *node*, on one line (the text is split once, when first asked)."""
        if self._lines is None:
            self._lines = self.text.split("\n")
        end_line = node.end_lineno or node.lineno
        end_col = node.end_col_offset if node.end_col_offset is not None else None
        # col offsets count UTF-8 bytes
        chunk = [line.encode() for line in self._lines[node.lineno - 1 : end_line]]
        if not chunk:
            return ast.unparse(node)
        if end_col is not None:
            chunk[-1] = chunk[-1][:end_col]
        chunk[0] = chunk[0][node.col_offset :]
        return " ".join(b"\n".join(chunk).decode(errors="replace").split())

    def calls(self, nodes: Iterable[ast.AST | None], scope: Scope, optional: bool) -> None:
        if not self.dynamic:
            return
        found: list[ast.Call] = []
        for node in nodes:
            if node is None:
                continue
            found.extend(
                n
                for n in ast.walk(node)
                if isinstance(n, ast.Call)
                and _dotted(n.func).rpartition(".")[2] in DYNAMIC_FUNCS
                and (n.args or n.keywords)
            )
        for call in sorted(found, key=lambda c: (c.lineno, c.col_offset)):
            first: ast.expr | None = call.args[0] if call.args else None
            for kw in call.keywords:
                if kw.arg == "name":
                    first = kw.value
            if first is not None:
                self.add_dynamic(call.lineno, scope, optional, _string(first))

    def body(self, statements: Sequence[ast.stmt], scope: Scope, optional: bool) -> None:
        for st in statements:
            self.statement(st, scope, optional)

    def condition(self, st: ast.If, scope: Scope, optional: bool) -> None:
        self.calls([st.test], scope, optional)
        if self.target is None:
            truth = False if is_type_checking(st.test) else None
        else:
            truth = evaluate(st.test, self.target)
        if truth is None:
            self.body(st.body, scope, optional)
            self.body(st.orelse, scope, optional)
            return
        body, orelse = self.dead_branches(self.source(st.test), is_type_checking(st.test), truth)
        self.enter_branch(body)
        self.body(st.body, scope, optional)
        self.leave_branch(body)
        self.enter_branch(orelse)
        self.body(st.orelse, scope, optional)
        self.leave_branch(orelse)

    def statement(self, st: ast.stmt, scope: Scope, optional: bool) -> None:
        if isinstance(st, ast.Import):
            for alias in st.names:
                self.add(st.lineno, scope, optional, module=alias.name)
        elif isinstance(st, ast.ImportFrom):
            module = st.module or ""
            if st.level == 0 and module == "__future__":
                return
            names = tuple(a.name for a in st.names)
            self.add(st.lineno, scope, optional, module=module, names=names, level=st.level)
        elif isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = st.args
            defaults = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
            annotations = [
                a.annotation
                for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
                if a is not None and a.annotation is not None
            ]
            self.calls([*st.decorator_list, *defaults, *annotations, st.returns], scope, optional)
            inner: Scope = (*scope, ("def", st.name))
            self.functions.add(inner)
            self.enter_nested()
            self.body(st.body, inner, False)  # a guard around the def does not guard the call
            self.leave_nested()
        elif isinstance(st, ast.ClassDef):
            self.calls([*st.decorator_list, *st.bases, *st.keywords], scope, optional)
            self.enter_nested()
            self.body(st.body, (*scope, ("class", st.name)), optional)
            self.leave_nested()
        elif isinstance(st, ast.If):
            self.condition(st, scope, optional)
        elif isinstance(st, _TRY_TYPES):
            self.trying(st, scope, optional)
        elif isinstance(st, (ast.With, ast.AsyncWith)):
            self.calls([i.context_expr for i in st.items], scope, optional)
            guarded = optional or any(_suppresses_import_error(i) for i in st.items)
            self.body(st.body, scope, guarded)
        elif isinstance(st, (ast.For, ast.AsyncFor, ast.While)):
            self.calls([st.iter if not isinstance(st, ast.While) else st.test], scope, optional)
            self.body(st.body, scope, optional)
            self.body(st.orelse, scope, optional)
        elif isinstance(st, ast.Match):
            self.calls([st.subject], scope, optional)
            for case in st.cases:
                self.calls([case.guard], scope, optional)
                self.body(case.body, scope, optional)
        else:
            self.calls([st], scope, optional)

    def trying(self, st: ast.stmt, scope: Scope, optional: bool) -> None:
        assert isinstance(st, _TRY_TYPES)
        handlers: list[ast.ExceptHandler] = st.handlers  # type: ignore[attr-defined]
        guarded = optional or any(
            _catches_import_error(h.type) and not (self.reraise and _always_raises(h.body))
            for h in handlers
        )
        self.body(st.body, scope, guarded)  # type: ignore[attr-defined]
        for handler in handlers:
            self.calls([handler.type], scope, optional)
            self.body(handler.body, scope, optional)
        self.body(st.orelse, scope, optional)  # type: ignore[attr-defined]
        self.body(st.finalbody, scope, optional)  # type: ignore[attr-defined]


def collect(
    text: str,
    path: str,
    cell: int | None,
    *,
    toplevel: bool,
    target: Target | None,
    reraise: bool = False,
    tree: ast.Module | None = None,
) -> FileImports | None:
    """The imports of *text* (``\\n`` line ends; *tree* if it is already parsed), or
    None when this interpreter cannot parse it."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return None
    walk = _Walk(text, path, cell, toplevel=toplevel, target=target, reraise=reraise)
    walk.body(tree.body, (), False)
    return walk.result()

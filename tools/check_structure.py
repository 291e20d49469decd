"""Fail on an import cycle between the modules of one package, or on a module over 400 lines.

Usage: python tools/check_structure.py [ROOT]   (ROOT defaults to the repository's packages/)

Every `import` and `from ... import` of a module of the same package counts, at the top of a
module or inside a function: a lower module calling back up through a late import is still a
circle a reader has to chase. Imports under `if TYPE_CHECKING:` do not count (they never run).
Importing a package's `__init__` from one of its modules is a cycle like any other.
Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_LINES = 400


def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, int]]:
    """Every import node that runs (not under `if TYPE_CHECKING:`), with its line."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, node.lineno
        stack.extend(ast.iter_child_nodes(node))


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]
) -> Iterator[str]:
    """The modules of the same top-level package that `node` imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from _nearest(alias.name, known)
        return
    if node.level:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    for alias in node.names:
        # `from pkg import mod` imports the module mod; `from pkg import name`, pkg itself.
        name = f"{base}.{alias.name}"
        yield from ([name] if name in known else _nearest(base, known))


def _nearest(name: str, known: set[str]) -> Iterator[str]:
    """The module `name`, or the nearest package above it that is one of ours."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    if name:
        yield name


def check_package(src: Path) -> list[str]:
    """Problems in the packages under one `src/` folder."""
    problems: list[str] = []
    files = {_module_name(src, p): p for p in sorted(src.rglob("*.py"))}
    known = set(files)
    graph: dict[str, dict[str, int]] = {m: {} for m in files}
    for module, path in files.items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        if lines > MAX_LINES:
            problems.append(
                f"{path}: {lines} lines (at most {MAX_LINES}): split it along its ideas"
            )
        tree = ast.parse(text, filename=str(path))
        is_package = path.name == "__init__.py"
        for node, line in _imports(tree):
            for target in _targets(node, module, is_package, known):
                if target != module and target.split(".")[0] == module.split(".")[0]:
                    graph[module].setdefault(target, line)
    for cycle in _cycles(graph):
        steps = " -> ".join(
            f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True)
        )
        problems.append(f"{src}: import cycle: {steps} -> {cycle[0]}")
    return problems


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_one_cycle(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _one_cycle(graph: dict[str, dict[str, int]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    start = min(component)
    parents: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w not in component:
                continue
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1]
            if w not in parents:
                parents[w] = v
                queue.append(w)
    return sorted(component)  # pragma: no cover - a component always holds a cycle


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "packages"
    problems: list[str] = []
    for src in sorted(root.glob("*/src")):
        problems.extend(check_package(src))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check_structure: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_structure: {root}: no import cycle, no module over {MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

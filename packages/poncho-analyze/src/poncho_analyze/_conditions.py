"""Evaluating ``if`` tests that depend only on the target Python and platform.

Real scripts import differently per Python version and per platform::

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    if sys.platform == "win32":
        import winreg

The branch the target never takes holds imports the task never makes, so they are
dropped.  Understood: ``sys.version_info`` compared with a tuple (also sliced,
indexed, ``.major``/``.minor``), ``sys.platform`` compared or ``.startswith(...)``,
``os.name``, ``platform.system()``, ``TYPE_CHECKING`` (false when the task runs),
``six.PY2``/``six.PY3``, ``not``/``and``/``or``, and module-level names assigned one of
those (``PY2 = sys.version_info[0] == 2``).  Anything else is *unknown*: both branches
count, as before.  Tests are evaluated on :mod:`ast` nodes (the libcst walk hands over
the test's source).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Target", "evaluate", "evaluate_code", "flag_names"]

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
# Compiled when first used (re keeps it): most texts hold none of _FLAG_WORDS.
_FLAG_LINE = (
    r"(?m)^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=[ \t]*([^\n#;]*"
    r"(?:version_info|sys\.platform|os\.name|platform\.system|PY2|PY3|TYPE_CHECKING)"
    r"[^\n#;]*)$"
)
_FLAG_WORDS = [
    "version_info",
    "sys.platform",
    "os.name",
    "platform.system",
    "PY2",
    "PY3",
    "TYPE_CHECKING",
]


@dataclass(frozen=True)
class Target:
    """The Python and platform the task runs on (Linux workers, by default)."""

    version: tuple[int, ...]
    platform: str = "linux"
    os_name: str = "posix"
    system: str = "Linux"
    names: Mapping[str, bool] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """``Python 3.12 on linux``."""
        return f"Python {'.'.join(map(str, self.version[:2]))} on {self.platform}"

    def with_names(self, names: Mapping[str, bool]) -> Target:
        """The same target, knowing the module-level flags *names*."""
        return Target(self.version, self.platform, self.os_name, self.system, dict(names))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def is_type_checking(node: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` (any module's)."""
    return _dotted(node).rpartition(".")[2] == "TYPE_CHECKING"


def _constant(node: ast.expr) -> Any:
    """An int, a string or a tuple of ints; None when it is something else."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, str):
        return node.value
    if isinstance(node, ast.Tuple):
        values = [_constant(e) for e in node.elts]
        if all(type(v) is int for v in values):
            return tuple(values)
    return None


def _value(node: ast.expr, target: Target) -> Any:
    """The value *node* has on the target, or None when it depends on anything else."""
    name = _dotted(node)
    if name:
        if name in ("sys.version_info", "version_info"):
            return target.version
        if name in ("sys.version_info.major", "version_info.major"):
            return target.version[0]
        if name in ("sys.version_info.minor", "version_info.minor"):
            return target.version[1]
        if name == "sys.platform":
            return target.platform
        if name == "os.name":
            return target.os_name
        if name in target.names:
            return target.names[name]
        if name.rpartition(".")[2] == "TYPE_CHECKING":
            return False
        if name in ("six.PY2", "PY2"):
            return target.version[0] == 2
        if name in ("six.PY3", "PY3"):
            return target.version[0] == 3
        return None
    if isinstance(node, ast.Subscript) and _dotted(node.value).endswith("version_info"):
        index = node.slice
        if isinstance(index, ast.Slice):
            if index.lower is None and index.step is None and index.upper is not None:
                upper = _constant(index.upper)
                if type(upper) is int:
                    return target.version[:upper]
            return None
        at = _constant(index)
        if type(at) is int and at < len(target.version):
            return target.version[at]
        return None
    if isinstance(node, ast.Call) and not node.args and _dotted(node.func) == "platform.system":
        return target.system
    return _constant(node)


def _compare(node: ast.Compare, target: Target) -> bool | None:
    left = node.left
    result = True
    for op, right in zip(node.ops, node.comparators, strict=True):
        a, b = _value(left, target), _value(right, target)
        if a is None or b is None:
            return None
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(a, str) or not isinstance(b, str):
                return None
            ok = (a in b) == isinstance(op, ast.In)
        elif type(op) in _COMPARE:
            if isinstance(a, tuple) != isinstance(b, tuple) or isinstance(a, str) != isinstance(
                b, str
            ):
                return None
            if isinstance(a, tuple) and isinstance(b, tuple) and len(b) > len(a):
                a = a + (0,) * (len(b) - len(a))  # an unknown micro version counts as 0
            ok = _COMPARE[type(op)](a, b)
        else:
            return None
        result = result and ok
        left = right
    return result


def evaluate(test: ast.expr, target: Target) -> bool | None:
    """Whether *test* is true on *target*; None when it cannot be known."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = evaluate(test.operand, target)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [evaluate(v, target) for v in test.values]
        if isinstance(test.op, ast.And):
            if False in values:
                return False
            return None if None in values else True
        if True in values:
            return True
        return None if None in values else False
    if isinstance(test, ast.Compare):
        return _compare(test, target)
    if (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Attribute)
        and test.func.attr in ("startswith", "endswith")
        and len(test.args) == 1
        and not test.keywords
    ):
        subject = _value(test.func.value, target)
        prefix = _constant(test.args[0])
        if isinstance(subject, str) and isinstance(prefix, str):
            check = str.startswith if test.func.attr == "startswith" else str.endswith
            return check(subject, prefix)
        return None
    value = _value(test, target)
    return value if isinstance(value, bool) else None


def evaluate_code(code: str, target: Target) -> bool | None:
    """:func:`evaluate` of the expression source *code*."""
    try:
        tree = ast.parse(f"({code.strip()}\n)", mode="eval")
    except (SyntaxError, ValueError):
        return None
    return evaluate(tree.body, target)


def flag_names(text: str, target: Target) -> dict[str, bool]:
    """Module-level names assigned a condition this module understands
    (``PY2 = sys.version_info[0] == 2``), with their value on *target*."""
    names: dict[str, bool] = {}
    if "=" not in text or not any(word in text for word in _FLAG_WORDS):
        return names  # _FLAG_LINE needs one of the words
    for m in re.finditer(_FLAG_LINE, text):
        value = evaluate_code(m.group(2), target.with_names(names))
        if value is None:
            names.pop(m.group(1), None)  # reassigned to something unknown
        else:
            names[m.group(1)] = value
    return names

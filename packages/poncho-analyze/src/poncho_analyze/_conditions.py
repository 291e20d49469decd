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
count, as before.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

__all__ = ["Target", "evaluate", "flag_names"]

_COMPARE: dict[type[cst.BaseCompOp], Callable[[Any, Any], bool]] = {
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
}
_SWAPPED: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.LessThan: cst.GreaterThan,
    cst.LessThanEqual: cst.GreaterThanEqual,
    cst.GreaterThan: cst.LessThan,
    cst.GreaterThanEqual: cst.LessThanEqual,
    cst.Equal: cst.Equal,
    cst.NotEqual: cst.NotEqual,
}
_FLAG_LINE = re.compile(
    r"^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=[ \t]*([^\n#;]*"
    r"(?:version_info|sys\.platform|os\.name|platform\.system|PY2|PY3|TYPE_CHECKING)"
    r"[^\n#;]*)$",
    re.M,
)


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


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _constant(node: cst.BaseExpression) -> Any:
    """An int, a string or a tuple of ints; None when it is something else."""
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return node.evaluated_value
    if isinstance(node, cst.Tuple):
        values = [_constant(e.value) for e in node.elements]
        if all(isinstance(v, int) for v in values):
            return tuple(values)
    return None


def _value(node: cst.BaseExpression, target: Target) -> Any:
    """The value *node* has on the target, or None when it depends on anything else."""
    name = _dotted(node)
    if name:
        last = name.rpartition(".")[2]
        if name in ("sys.version_info", "version_info"):
            return target.version
        if name in ("sys.version_info.major", "version_info.major"):
            return target.version[0]
        if name in ("sys.version_info.minor", "version_info.minor"):
            return target.version[1]
        if name in ("sys.platform",):
            return target.platform
        if name in ("os.name",):
            return target.os_name
        if last == "TYPE_CHECKING":
            return False
        if name in ("six.PY2", "PY2") and name not in target.names:
            return target.version[0] == 2
        if name in ("six.PY3", "PY3") and name not in target.names:
            return target.version[0] == 3
        if name in target.names:
            return target.names[name]
        return None
    if isinstance(node, cst.Subscript) and _dotted(node.value).endswith("version_info"):
        if len(node.slice) != 1:
            return None
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            at = _constant(index.value)
            if isinstance(at, int) and at < len(target.version):
                return target.version[at]
        elif isinstance(index, cst.Slice) and index.lower is None and index.step is None:
            upper = _constant(index.upper) if index.upper is not None else None
            if isinstance(upper, int):
                return target.version[:upper]
        return None
    if isinstance(node, cst.Call) and not node.args and _dotted(node.func) == "platform.system":
        return target.system
    return _constant(node)


def _compare(node: cst.Comparison, target: Target) -> bool | None:
    left = node.left
    result: bool | None = True
    for target_op in node.comparisons:
        right = target_op.comparator
        op = type(target_op.operator)
        a, b = _value(left, target), _value(right, target)
        if a is None or b is None:
            return None
        if isinstance(target_op.operator, (cst.In, cst.NotIn)):
            if not isinstance(a, str) or not isinstance(b, str):
                return None
            ok = (a in b) == isinstance(target_op.operator, cst.In)
        elif op in _COMPARE:
            if isinstance(a, tuple) != isinstance(b, tuple) or isinstance(a, str) != isinstance(
                b, str
            ):
                return None
            if isinstance(a, tuple) and isinstance(b, tuple) and len(b) > len(a):
                a = a + (0,) * (len(b) - len(a))  # an unknown micro version counts as 0
            ok = _COMPARE[op](a, b)
        else:
            return None
        result = result and ok
        left = right
    return result


def evaluate(test: cst.BaseExpression, target: Target) -> bool | None:
    """Whether *test* is true on *target*; None when it cannot be known."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = evaluate(test.expression, target)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left, right = evaluate(test.left, target), evaluate(test.right, target)
        if isinstance(test.operator, cst.And):
            if left is False or right is False:
                return False
            return None if left is None or right is None else True
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if isinstance(test, cst.Comparison):
        return _compare(test, target)
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Attribute)
        and test.func.attr.value in ("startswith", "endswith")
        and len(test.args) == 1
    ):
        subject = _value(test.func.value, target)
        prefix = _constant(test.args[0].value)
        if isinstance(subject, str) and isinstance(prefix, str):
            check = str.startswith if test.func.attr.value == "startswith" else str.endswith
            return check(subject, prefix)
        return None
    value = _value(test, target)
    return value if isinstance(value, bool) else None


def flag_names(text: str, target: Target) -> dict[str, bool]:
    """Module-level names assigned a condition this module understands
    (``PY2 = sys.version_info[0] == 2``), with their value on *target*."""
    names: dict[str, bool] = {}
    if "=" not in text:
        return names
    for m in _FLAG_LINE.finditer(text):
        try:
            expr = cst.parse_expression(m.group(2).strip())
        except cst.ParserSyntaxError:
            continue
        value = evaluate(expr, target.with_names(names))
        if value is None:
            names.pop(m.group(1), None)  # reassigned to something unknown
        else:
            names[m.group(1)] = value
    return names

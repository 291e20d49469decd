"""Whether a script parses for the target Python, and naming Python 2 source as such.

The import scan may parse only the statements that may import (see ``_scanner``), so a
syntax error elsewhere would pass unnoticed.  The whole text is checked with the
interpreter's own parser (``compile`` to an AST, several times faster than libcst),
restricted to the target's grammar when the target is older than the running Python
(``feature_version``, best effort).  When the target is newer, code the running parser
rejects is given to libcst, which knows newer grammars, before it is called invalid.
"""

from __future__ import annotations

import ast
import re
import sys

from poncho_analyze.errors import ParseFailed

__all__ = ["check_syntax"]

# Looked for only in a file that does not parse (compiled then; re keeps them).
_PYTHON2 = [
    (r"^[ \t]*print[ \t]+(?![\s(=.\[,)]|>>?=)[^\n]", re.M, "a print statement"),
    (r"^[ \t]*print[ \t]*>>", re.M, "print >>"),
    (r"^[ \t]*exec[ \t]+[\"'\w]", re.M, "an exec statement"),
    (r"^[ \t]*except[ \t]+[\w.() ,]+?,[ \t]*\w+[ \t]*:", re.M, "except X, e:"),
    (r"^[ \t]*raise[ \t]+[\w.]+[ \t]*,[ \t]*\S", re.M, "raise X, message"),
    (r"(?<![\w.])0[0-7]+\b(?![.jJeE])", 0, "an octal literal like 0755"),
    (r"(?<![\w.])\d+[lL]\b", 0, "a long literal like 10L"),
    (r"<>", 0, "the <> operator"),
    (r"\bur[\"']", re.I, "a ur'' string"),
]


def _python2_hint(text: str, line: int, message: str) -> str | None:
    if "Missing parentheses in call to 'print'" in message:
        return "a print statement"
    if "Missing parentheses in call to 'exec'" in message:
        return "an exec statement"
    lines = text.splitlines()
    near = "\n".join(lines[max(0, line - 1) : line]) if line else ""
    for pattern, flags, what in _PYTHON2:
        if re.search(pattern, near, flags):
            return what
    return None


def check_syntax(text: str, where: str, target: tuple[int, ...]) -> ast.Module | None:
    """Raise :class:`ParseFailed` naming ``where:line:column`` if *text* is not valid
    Python for *target*; "this is Python 2 source" when it looks like it.  Returns the
    tree when the running interpreter parsed it (None when libcst had to)."""
    # Only the parser runs (no symbol table), so a notebook's top-level await passes.
    flags = ast.PyCF_ONLY_AST
    running = sys.version_info[:2]
    minor = target[1] if len(target) > 1 and target[:1] == (3,) else running[1]
    feature = min(minor, running[1])
    try:
        tree: ast.Module = compile(
            text, where, "exec", flags, dont_inherit=True, _feature_version=feature
        )
        return tree
    except SyntaxError as exc:
        error = exc
    except ValueError as exc:  # null bytes
        raise _failed(f"{where}: cannot parse: {exc}", where, 0, f"cannot parse: {exc}") from None
    if (3, minor) > running:  # the target's grammar may be newer than ours
        import libcst as cst  # slow to import: only for syntax newer than ours

        try:
            cst.parse_module(text)
            return None
        except (cst.ParserSyntaxError, ValueError):
            pass
    line = error.lineno or 0
    column = f":{error.offset}" if error.offset else ""
    message = error.msg
    version = f"3.{minor}"
    hint = _python2_hint(text, line, message)  # before newer grammars: 3.14 has `except A, B:`
    if hint is not None:
        raise _failed(
            f"{where}:{line}{column}: this is Python 2 source ({hint}); port it to Python 3 "
            "first (the spec would not run it)",
            where,
            line,
            f"this is Python 2 source ({hint})",
        )
    needs = _newer_grammar(text, where, flags, minor, running[1])
    if needs is not None:
        reason = f"needs Python >= 3.{needs[1]} ({message})"
        raise _failed(
            f"{where}:{line}{column}: invalid syntax for Python {version}: {message}; it "
            f"needs Python >= 3.{needs[1]} (--python 3.{needs[1]})",
            where,
            line,
            reason,
            needs,
        )
    raise _failed(
        f"{where}:{line}{column}: invalid syntax for Python {version}: {message}",
        where,
        line,
        f"invalid syntax for Python {version}: {message}",
    )


def _newer_grammar(
    text: str, where: str, flags: int, minor: int, running: int
) -> tuple[int, int] | None:
    """The oldest ``(3, minor)`` after the target's, up to the running Python's, whose
    grammar accepts *text*; None when none does (a newer one may: it cannot be asked)."""
    for newer in range(minor + 1, running + 1):
        try:
            compile(text, where, "exec", flags, dont_inherit=True, _feature_version=newer)
        except (SyntaxError, ValueError):
            continue
        return (3, newer)
    return None


def _failed(
    message: str, where: str, line: int, reason: str, needs: tuple[int, int] | None = None
) -> ParseFailed:
    error = ParseFailed(message)
    error.where, error.line, error.reason, error.needs = where, line, reason, needs
    return error

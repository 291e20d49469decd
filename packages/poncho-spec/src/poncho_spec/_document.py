"""Limits checked on a spec document before its content is: JSON decoding that cannot blow
up, nesting depth, and text that no later step could encode.

A spec is a few levels deep and holds short strings, but it comes from users and from
archives. Whatever the input, every reader (validation, hashing, ``show``, create, fetch,
the runner) must get :class:`~poncho_spec.InvalidSpec`, never a ``RecursionError``,
``ValueError`` or ``UnicodeEncodeError`` from deep inside. So:

- JSON decoding refuses integers of more than :data:`MAX_INT_DIGITS` digits (Python's
  ``int()`` refuses 4,300 with a ValueError), ``NaN``/``Infinity`` (not JSON), and nesting
  the decoder cannot follow (``RecursionError``);
- the decoded document (or the data given to ``Spec.from_dict``) is walked without
  recursion: deeper than :data:`MAX_DEPTH` levels is refused, and so is any string or key
  holding a lone surrogate (``"\\ud800"`` decodes, but is no Unicode text: writing it as
  UTF-8 fails) or a NUL character (no path, argument or variable can hold one).

Objects are decoded as :class:`DuplicateKeysDict` (validation reports a key given twice), and
every message names its place with :func:`json_path`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from poncho_spec.errors import Problem

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "DuplicateKeysDict",
    "decode",
    "document_problems",
    "json_path",
]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted (a valid spec needs 5)."""

MAX_INT_DIGITS = 1000
"""Longest integer literal decoded (no spec field is a number: it is only reported)."""


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


class DuplicateKeysDict(dict[str, Any]):
    """A JSON object that remembers keys given more than once (for `json` object hooks)."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> DuplicateKeysDict:
        """`object_pairs_hook` for `json.loads`."""
        out = cls(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            duplicates = []
            for key, _ in pairs:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
            out.duplicates = tuple(dict.fromkeys(duplicates))
        return out


def json_path(base: str, key: str | int) -> str:
    """Extend a JSON path: ``conda`` + ``channels`` -> ``conda.channels``; + 2 -> ``[2]``."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{base}.{key}" if base else key
    # Escaped unless printable: a message is one line, whatever the key holds.
    return f"{base}[{json.dumps(key, ensure_ascii=not key.isprintable())}]"


class _Refused(ValueError):
    """A JSON token the decoder must not turn into a value."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise _Refused(f"a number of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_constant(text: str) -> float:
    raise _Refused(f"{text} is not JSON")


def decode(text: str | bytes, object_pairs_hook: Any) -> tuple[Any, Problem | None]:
    """Decode JSON text; ``(document, None)`` or ``(None, the problem)``."""
    try:
        data = json.loads(
            text,
            object_pairs_hook=object_pairs_hook,
            parse_int=_parse_int,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None, Problem("", message)
    except UnicodeDecodeError as exc:
        return None, Problem("", f"not UTF-8 text: {exc.reason}")
    except _Refused as exc:
        return None, Problem("", f"invalid JSON: {exc}")
    except RecursionError:
        return None, Problem("", f"invalid JSON: nested too deeply (at most {MAX_DEPTH} levels)")
    return data, None


def document_problems(data: object) -> list[Problem]:
    """What makes `data` (a decoded document) unsafe to validate: too deep, lone
    surrogates, NUL characters. Walks iteratively; stops at the first problem of depth."""
    problems: list[Problem] = []
    stack: list[tuple[object, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                problems.append(Problem(path, problem))
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            return [Problem(path, f"nested too deeply (at most {MAX_DEPTH} levels)")]
        if isinstance(value, dict):
            children = []
            for key, child in value.items():
                if not isinstance(key, str):
                    child_path = f"{path}[{key!r}]"
                elif text_problem(key):
                    child_path = f"{path}[{json.dumps(key)}]"
                    problems.append(Problem(child_path, f"key {text_problem(key)}"))
                    continue
                else:
                    child_path = json_path(path, key)
                children.append((child, child_path, depth + 1))
            stack.extend(reversed(children))
        else:
            items = list(enumerate(value))
            stack.extend((child, json_path(path, i), depth + 1) for i, child in reversed(items))
    return problems


def text_problem(text: str) -> str | None:
    """Why `text` cannot be kept in a spec (a lone surrogate, a NUL), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ascii(text[exc.start])
        return f"contains a lone surrogate ({bad}): not Unicode text (an invalid \\u escape?)"
    return None

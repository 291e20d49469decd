"""Pickling a call for the environment with the source of the functions sent by value.

A function that cloudpickle sends by value (a lambda, a closure, a function of a script or
a notebook) arrives in the environment without its file: the file may not exist there, and
cloudpickle 3.1.3 and later even rename its code ``<dynamic-code>``. So a traceback made
there would show no source lines. `dumps_with_sources` notes the source text of each
function cloudpickle sends by value, as this process (the worker) sees it through
`linecache`, and the environment's bootstrap puts it back into its own `linecache`.
"""

from __future__ import annotations

import io
import linecache
import pickle
import types
from typing import Any

import cloudpickle

__all__ = ["DYNAMIC_CODE", "MAX_SOURCE_CHARS", "dumps_with_sources", "source_of"]

#: The file name cloudpickle 3.1.3 and later give the code of functions it sends by value.
DYNAMIC_CODE = "<dynamic-code>"

#: A larger "source file" is data, not code: it is not sent.
MAX_SOURCE_CHARS = 1 << 20


def source_of(func: types.FunctionType) -> tuple[str, str] | None:
    """``(file name, text)`` of the file `func` was defined in, if this process can read it.

    That is the code's own file name, except for a function cloudpickle rebuilt as
    `DYNAMIC_CODE`: its module's ``__file__``, which cloudpickle keeps in its globals (other
    code without a file, e.g. made by ``exec``, is not given its module's file).
    """
    module_globals = func.__globals__
    filename: object = func.__code__.co_filename
    if filename == DYNAMIC_CODE:
        filename = module_globals.get("__file__")
    if not isinstance(filename, str) or not filename:
        return None
    text = "".join(linecache.getlines(filename, module_globals))
    return (filename, text) if 0 < len(text) <= MAX_SOURCE_CHARS else None


class _SourcePickler(cloudpickle.Pickler):  # type: ignore[misc]  # cloudpickle is untyped
    """cloudpickle's pickler, noting the sources of the functions it pickles by value."""

    def __init__(self, file: io.BytesIO, protocol: int) -> None:
        super().__init__(file, protocol=protocol)
        self.sources: dict[str, str] = {}

    def reducer_override(self, obj: Any) -> Any:
        reduced = super().reducer_override(obj)
        # NotImplemented: cloudpickle leaves it to pickle (by reference, or not a function).
        if reduced is not NotImplemented and isinstance(obj, types.FunctionType):
            found = source_of(obj)
            if found is not None:
                self.sources.setdefault(*found)
        return reduced


def dumps_with_sources(payload: Any, protocol: int) -> bytes:
    """Two pickles: the ``{file name: text}`` of the functions `payload` sends by value
    (plain pickle), then `payload` itself (cloudpickle)."""
    buffer = io.BytesIO()
    pickler = _SourcePickler(buffer, protocol)
    pickler.dump(payload)
    return pickle.dumps(pickler.sources, protocol) + buffer.getvalue()

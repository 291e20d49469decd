"""Reading and writing spec files: a path or ``-`` for stdin/stdout."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from poncho_spec.errors import InvalidSpec, Problem, SpecNotFound
from poncho_spec.model import Spec

__all__ = ["dump_spec", "dumps_spec", "load_spec", "loads_spec", "write_text"]

STDIO = "-"


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Read and validate a spec file; ``"-"`` reads stdin.

    `spec.base_dir` is the file's folder (None for stdin: relative local pip paths are then
    relative to the current folder). Raises SpecNotFound if the file does not exist, and
    InvalidSpec for bad JSON or an invalid spec.
    """
    name = os.fspath(path)
    if name == STDIO:
        return loads_spec(sys.stdin.read(), source="<stdin>")
    file = Path(name)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise SpecNotFound(name) from None
    except IsADirectoryError:
        raise InvalidSpec([Problem("", "is a folder, not a spec file")], name) from None
    except OSError as exc:
        raise InvalidSpec([Problem("", f"cannot read: {exc.strerror or exc}")], name) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidSpec([Problem("", f"not UTF-8 text: {exc.reason}")], name) from None
    return loads_spec(text, source=name, base_dir=file.resolve().parent)


def loads_spec(
    text: str | bytes, *, source: str | None = None, base_dir: Path | str | None = None
) -> Spec:
    """Validate a spec given as JSON text. Raises InvalidSpec (with line and column for
    JSON syntax errors; also for JSON no spec can be: huge numbers, deep nesting)."""
    from poncho_spec._document import DuplicateKeysDict, decode

    data, problem = decode(text, DuplicateKeysDict.from_pairs)
    if problem is not None:
        raise InvalidSpec([problem], source)
    return Spec.from_dict(data, source=source, base_dir=base_dir)


def dumps_spec(spec: Spec) -> str:
    """The spec in modern form as indented JSON text, ending with a newline."""
    return json.dumps(spec.to_dict(), indent=2, ensure_ascii=False) + "\n"


def dump_spec(spec: Spec, path: str | os.PathLike[str]) -> None:
    """Write the spec in modern form to `path` (``"-"`` = stdout), atomically: a temporary
    file in the same folder, then ``os.replace``."""
    write_text(path, dumps_spec(spec))


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` (``"-"`` = stdout) with :func:`poncho_core.fs.atomic_write`:
    readers never see a half-written file, a link is written through, a device in place."""
    name = os.fspath(path)
    if name == STDIO:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from poncho_core.fs import atomic_write

    atomic_write(name, text)

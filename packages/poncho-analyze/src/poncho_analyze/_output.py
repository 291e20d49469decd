"""Which command lines would overwrite a user's file: the OUTPUT and SCRIPT checks.

``poncho_package_analyze spec.json task.py`` (arguments swapped) and
``poncho_package_analyze a.py b.py`` (OUTPUT forgotten) used to write a spec over the
last script.  The command now refuses, before any work:

- a SCRIPT that ends in ``.json`` (a spec given where a script goes: a JSON object is a
  valid Python expression, so it would "analyze" without an error);
- an OUTPUT that is a Python file or notebook (by its name, whether it exists or not);
- an OUTPUT that exists, is a regular file, and is neither empty nor a spec.

``--force`` lifts the OUTPUT checks.  Rewriting an existing spec needs no flag, and an
empty file is no data: Parsl's executors name a fresh ``tempfile.NamedTemporaryFile``
(``tmp.yaml``) as OUTPUT.  Devices and pipes (``/dev/stdout``) are written in place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["output_problem", "script_problem"]

SCRIPT_SUFFIXES = (".py", ".pyw", ".pyi", ".ipynb")
"""Names that OUTPUT may never have without ``--force``."""
SPEC_KEYS = frozenset(
    {"conda", "pip", "git", "http", "pinned", "name", "prefix", "variables", "channels"}
)
"""Top-level keys of a spec (Poncho's, CCTools', ``conda env export``'s)."""
_LARGEST_SPEC = 8 << 20
"""An existing file larger than this is not read: it is no spec."""


def script_problem(sources: Sequence[str | os.PathLike[str]]) -> str | None:
    """Why the SCRIPT arguments look like a mistake (a ``.json`` file), or None."""
    for source in sources:
        name = os.fspath(source)
        if name != "-" and name.lower().endswith(".json"):
            return (
                f"{name}: a SCRIPT cannot be a .json file; were SCRIPT and OUTPUT swapped? "
                "(the spec to write comes last: SCRIPT... OUTPUT)"
            )
    return None


def output_problem(output: str | os.PathLike[str], *, force: bool = False) -> str | None:
    """Why writing a spec to *output* would destroy a file, or None (also with *force*)."""
    name = os.fspath(output)
    if force or name == "-":
        return None
    if name.lower().endswith(SCRIPT_SUFFIXES):
        kind = "a notebook" if name.lower().endswith(".ipynb") else "a Python file"
        return (
            f"{name}: OUTPUT is {kind}; refusing to write a spec over it (the spec to write "
            "comes last: SCRIPT... OUTPUT; --force writes it anyway)"
        )
    path = Path(name)
    try:
        if not path.is_file() or is_spec_or_empty(path):
            return None
    except OSError:
        return None  # unreadable: the write reports the real problem
    return (
        f"{name}: OUTPUT exists and is not a spec; refusing to overwrite it "
        "(--force writes it anyway)"
    )


def is_spec_or_empty(path: Path) -> bool:
    """Whether the file at *path* holds only white space, or a JSON object whose keys
    are all spec keys (``{}`` included)."""
    if path.stat().st_size > _LARGEST_SPEC:
        return False
    data = path.read_bytes()
    if not data.strip():
        return True
    if not data.lstrip().startswith(b"{"):
        return False
    try:
        loaded = json.loads(data)
    except ValueError:
        return False
    return isinstance(loaded, dict) and set(loaded) <= SPEC_KEYS

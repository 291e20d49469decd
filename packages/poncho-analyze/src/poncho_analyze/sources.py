"""Reading scripts: Python files, Jupyter notebooks and stdin; PEP 723 inline metadata.

A notebook contributes its code cells.  IPython syntax is not Python: a cell magic
(``%%bash``) drops its cell, except the magics that run their body as Python
(``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``), which drop only their first line;
line magics (``%pip``), shell lines (``!ls``, ``x = !ls``) and help lines (``obj?``)
become ``pass`` at the same indentation, so that line numbers stay right.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from poncho_analyze.errors import ScriptMetadataError, SourceError

__all__ = [
    "Script",
    "ScriptMetadata",
    "decode_python",
    "notebook_cells",
    "read_script",
    "script_metadata",
]

STDIN = "-"
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
# Compiled when first used (re keeps them): for notebooks, for scripts with metadata.
_MAGIC_LINE = r"^([ \t]*)(?:[%!?]|[\w.,\[\]() \t]+=[ \t]*[%!]|[\w.]+\?{1,2}[ \t]*$)"
_METADATA_BLOCK = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"


# A NamedTuple, not a dataclass: made at import, several times cheaper, and every run
# of the command pays for each class it makes.
class ScriptMetadata(NamedTuple):
    """PEP 723 ``# /// script`` metadata of one script."""

    path: str
    dependencies: tuple[str, ...] = ()
    requires_python: str | None = None


# A NamedTuple, not a dataclass: made at import, several times cheaper, and every run
# of the command pays for each class it makes.
class Script(NamedTuple):
    """One script ready for analysis.

    ``cells`` holds ``(cell number or None, Python text)``; a ``.py`` file is one cell
    numbered None.  ``directory`` is where Python would look first for modules (the
    script's folder; the current folder for stdin).
    """

    path: str
    directory: Path
    cells: tuple[tuple[int | None, str], ...]
    metadata: ScriptMetadata | None = None


def decode_python(data: bytes, path: str) -> str:
    """Source bytes as text, honouring a PEP 263 coding line and a BOM."""
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"{path}: cannot decode the source: {exc}") from None


def _clean_cell(text: str) -> str | None:
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return None
        lines[0] = "\n"
    out = []
    for line in lines:
        m = re.match(_MAGIC_LINE, line)
        if m is not None:
            out.append(f"{m.group(1)}pass\n")
        else:
            out.append(line)
    return "".join(out)


def notebook_cells(data: bytes | str, path: str) -> list[tuple[int, str]]:
    """The code cells of a notebook as ``(1-based cell number, Python text)``."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: not a Jupyter notebook (invalid JSON: {exc})") from None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        raise SourceError(f"{path}: not a Jupyter notebook (no 'cells' list)")
    out = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source: Any = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        if not isinstance(source, str):
            raise SourceError(f"{path}: cell {number}: 'source' is not text")
        cleaned = _clean_cell(source)
        if cleaned is not None:
            out.append((number, cleaned))
    return out


def script_metadata(text: str, path: str) -> ScriptMetadata | None:
    """The PEP 723 ``script`` block of *text*, or None.  Raises ScriptMetadataError."""
    if "# /// script" not in text:  # what every script block starts with
        return None
    blocks = [m for m in re.finditer(_METADATA_BLOCK, text) if m.group("type") == "script"]
    if not blocks:
        return None
    if len(blocks) > 1:
        raise ScriptMetadataError(f"{path}: more than one '# /// script' metadata block")
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptMetadataError(f"{path}: invalid TOML in the script metadata: {exc}") from None
    deps = data.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ScriptMetadataError(
            f"{path}: script metadata: 'dependencies' must be a list of strings"
        )
    requires = data.get("requires-python")
    if requires is not None and not isinstance(requires, str):
        raise ScriptMetadataError(f"{path}: script metadata: 'requires-python' must be a string")
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    for dep in deps:
        try:
            Requirement(dep)
        except InvalidRequirement as exc:
            raise ScriptMetadataError(
                f"{path}: script metadata: dependency {dep!r}: {exc}"
            ) from None
    if requires is not None:
        try:
            SpecifierSet(requires)
        except InvalidSpecifier:
            raise ScriptMetadataError(
                f"{path}: script metadata: 'requires-python' {requires!r} "
                "is not a version specifier"
            ) from None
    return ScriptMetadata(path, tuple(deps), requires)


def _looks_like_notebook(text: str) -> bool:
    return text.lstrip().startswith("{") and '"cells"' in text


def read_script(path: str | os.PathLike[str], stdin: TextIO | None = None) -> Script:
    """Read a script: a ``.py`` file, a ``.ipynb`` notebook, or ``-`` for stdin (Python
    source or a notebook).  Raises SourceError or ScriptMetadataError."""
    name = os.fspath(path)
    if name == STDIN:
        text = (stdin or sys.stdin).read()
        label = "<stdin>"
        cells: list[tuple[int | None, str]]
        notebook = _looks_like_notebook(text)
        cells = list(notebook_cells(text, label)) if notebook else [(None, text)]
        return Script(label, Path.cwd(), tuple(cells), _metadata(cells, label))
    file = Path(name)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{name}: is a folder, not a script") from None
    except OSError as exc:
        raise SourceError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if file.suffix == ".ipynb":
        cells = list(notebook_cells(data, name))
    else:
        cells = [(None, decode_python(data, name))]
    return Script(name, file.absolute().parent, tuple(cells), _metadata(cells, name))


def _metadata(cells: list[tuple[int | None, str]], path: str) -> ScriptMetadata | None:
    found = [m for _, text in cells if (m := script_metadata(text, path)) is not None]
    if len(found) > 1:
        raise ScriptMetadataError(f"{path}: more than one '# /// script' metadata block")
    return found[0] if found else None

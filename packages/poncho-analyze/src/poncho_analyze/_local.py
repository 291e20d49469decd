"""Which imports are the user's own code, to travel with the task rather than be installed.

Two strengths of evidence:

- *shadowing*: a ``name.py``, a package ``name/__init__.py`` or an extension module beside
  the script.  Python puts the script's folder first on the search path, so that file is
  what ``import name`` loads, whatever is installed;
- *project code*: a name that nothing installed provides, but that exists as a module or a
  folder (with or without ``__init__.py``: an implicit namespace package) beside the
  script, at the root of the package the script is part of, or at the root (or ``src/``)
  of the project the script lives in (the first folder up with ``pyproject.toml``,
  ``setup.py``, ``setup.cfg`` or ``.git``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from poncho_analyze.imports import Import
    from poncho_analyze.sources import Script

__all__ = ["Locals", "forget", "project_roots", "provided_by_project", "shadowing_sibling"]

_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
_MAX_UP = 12  # folders to climb looking for a project root


def shadowing_sibling(name: str, folder: Path) -> str | None:
    """The file or package beside the script that Python would import as *name*."""
    if name in sys.builtin_module_names:
        return None
    if (folder / f"{name}.py").is_file():
        return f"{name}.py"
    if (folder / name / "__init__.py").is_file():
        return f"{name}/"
    for entry in _entries(folder):
        if entry.startswith(name + ".") and entry.endswith((".so", ".pyd")):
            return entry
    return None


@lru_cache(maxsize=256)
def _entries(folder: Path) -> tuple[str, ...]:
    try:
        return tuple(e.name for e in folder.iterdir())
    except OSError:
        return ()


def forget() -> None:
    """Drop the folder listings read so far (each analysis sees the folders afresh)."""
    _entries.cache_clear()


def project_roots(folder: Path) -> tuple[Path, ...]:
    """The folders besides *folder* where the script's own top-level modules may live:
    the parent of the outermost package holding *folder*, and the project root with
    its ``src/``."""
    roots: list[Path] = [folder]
    top = folder
    while (top / "__init__.py").is_file() and top.parent != top:
        top = top.parent
    roots.append(top)
    here = folder
    for _ in range(_MAX_UP):
        if any((here / marker).exists() for marker in _PROJECT_MARKERS):
            roots.extend([here, here / "src"])
            break
        if here.parent == here or here == Path.home():
            break
        here = here.parent
    return tuple(dict.fromkeys(r for r in roots if r.is_dir()))


def provided_by_project(name: str, roots: Iterable[Path]) -> str | None:
    """Where *name* exists as a module or folder in one of *roots* (``path/name/``)."""
    for root in roots:
        entries = _entries(root)
        if f"{name}.py" in entries or any(
            e.startswith(name + ".") and e.endswith((".so", ".pyd")) for e in entries
        ):
            return str(root / f"{name}.py")
        if name in entries and (root / name).is_dir() and not name.startswith("."):
            return f"{root / name}/"
    return None


class Locals:
    """The imports of one analysis found to be the scripts' own code, with what says so.

    ``found`` maps each module to ``(what it is, the imports of it)``; ``tops`` holds
    their top-level names (a later import under one of them is the project's too).
    """

    def __init__(self, scripts: Iterable[Script]) -> None:
        forget()
        self.folders = {s.path: s.directory for s in scripts}
        self.found: dict[str, tuple[str, list[Import]]] = {}
        self.tops: set[str] = set()

    def add(self, module: str, what: str, imp: Import) -> None:
        """Record *imp* as an import of the scripts' own *module*."""
        self.found.setdefault(module, (what, []))[1].append(imp)
        self.tops.add(imp.top)

    def shadowing(self, imp: Import) -> bool:
        """Relative imports and modules beside the script (they win over installed ones)."""
        if imp.level:
            self.add(imp.display, "relative import", imp)
            return True
        folder = self.folders.get(imp.path, Path.cwd())
        sibling = shadowing_sibling(imp.top, folder)
        if sibling is None:
            return False
        self.add(imp.top, f"local module {sibling}", imp)
        return True

    def project(self, top: str, imports: list[Import]) -> bool:
        """Imports nothing installed provides, found among the project's own files."""
        for imp in imports:
            folder = self.folders.get(imp.path, Path.cwd())
            where = provided_by_project(top, project_roots(folder))
            if where is not None:
                for each in imports:
                    self.add(top, f"project code {where}", each)
                return True
        return False

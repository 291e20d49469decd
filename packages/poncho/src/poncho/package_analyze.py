"""CCTools' ``poncho.package_analyze`` API, on this Poncho's analyzer (poncho-analyze)::

    from poncho import package_analyze          # was: from ndcctools.poncho import package_analyze

    spec = package_analyze.create_spec("task.py", extra_pkg=["dill"])     # a spec dict
    spec = package_analyze.create_spec_from_functions([my_function])     # live functions

Same names, parameters and defaults as CCTools. Imports are mapped to the packages
installed in the running environment, exactly as ``poncho_package_analyze`` does; the
functions are never run.
"""

from __future__ import annotations

import dis
import logging
import os
import tempfile
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["create_spec", "create_spec_from_functions", "imports_of_functions"]

log = logging.getLogger(__name__)


def create_spec(
    filename: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    toplevel: bool = False,
    function: str | None = None,
    pkg_mapping: Sequence[str] = [],
    extra_pkg: Sequence[str] = [],
) -> dict[str, Any]:
    """The spec (a dict) of the packages the script `filename` imports: all its imports, or
    only the top-level ones (`toplevel`), or those of one `function`. `pkg_mapping` entries
    are ``IMPORT=PACKAGE``; `extra_pkg` names packages to add. With `out`, the spec is also
    written there (JSON), and local folders in it are relative to `out`'s folder (as
    ``poncho_package_analyze`` writes them, and poncho-create reads them); without, to the
    current folder."""
    from poncho_analyze import AnalyzeError, analyze
    from poncho_spec import dump_spec

    mapping = {}
    for item in pkg_mapping:
        module, sep, package = item.partition("=")
        if not sep or not module.strip() or not package.strip():
            raise AnalyzeError(f"pkg_mapping: {item!r} is not IMPORT=PACKAGE")
        mapping[module.strip()] = package.strip()
    result = analyze(
        [filename],
        toplevel=toplevel,
        function=function,
        pkg_mapping=mapping,
        extra_pkgs=tuple(extra_pkg),
        spec_path=out,
    )
    if out is not None:
        dump_spec(result.spec, out)
    return result.spec.to_dict()


def create_spec_from_functions(func_list: Iterable[Callable[..., Any]]) -> dict[str, Any]:
    """The spec (a dict) of the packages that live functions import, read from their
    bytecode and globals without running them (TaskVine's serverless libraries). Modules
    that nothing installed provides (the user's own, beside the script) are left out with
    a warning, as CCTools leaves them out."""
    from poncho_analyze import analyze

    modules = sorted(imports_of_functions(func_list))
    with tempfile.TemporaryDirectory(prefix="poncho-functions-") as folder:
        script = Path(folder) / "functions.py"
        script.write_text("".join(f"import {m}\n" for m in modules), encoding="utf-8")
        # Modules nothing installed provides are left out with a warning (analyze's default).
        analysis = analyze([script], allow_local=True)
    for warning in analysis.warnings:
        log.warning("%s", warning)
    return analysis.spec.to_dict()


def imports_of_functions(func_list: Iterable[Callable[..., Any]]) -> set[str]:
    """The top-level modules that functions use: their ``import`` statements (read from the
    bytecode, nested functions and comprehensions included), and the modules of the
    globals they name (``np.array`` after a module-level ``import numpy as np``)."""
    found: set[str] = set()
    for func in func_list:
        code = getattr(func, "__code__", None)
        if code is None:
            raise TypeError(f"{func!r} is not a Python function")
        found |= _code_imports(code)
        found |= _global_modules(func, code)
    return {m for m in found if m and not m.startswith("_") and m != "builtins"}


def _code_imports(code: types.CodeType) -> set[str]:
    found = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname == "IMPORT_NAME":
            found.add(str(instruction.argval).split(".")[0])
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _code_imports(const)
    return found


def _global_modules(func: Callable[..., Any], code: types.CodeType) -> set[str]:
    namespace: dict[str, Any] = getattr(func, "__globals__", {})
    found = set()
    for name in _names(code):
        value = namespace.get(name)
        if value is None:
            continue
        module = value.__name__ if isinstance(value, types.ModuleType) else None
        if module is None:
            module = getattr(value, "__module__", None)
        if isinstance(module, str) and module != namespace.get("__name__"):
            found.add(module.split(".")[0])
    return found


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names

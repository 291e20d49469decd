"""Ship a Python program's exact environment to the machines that run it.

The meta-package: it brings poncho-spec, poncho-analyze, poncho-create, poncho-run and
poncho-fetch, pinned to a set tested together, and gathers their Python APIs in one place::

    import poncho

    analysis = poncho.analyze(["task.py"])          # scripts -> pinned spec
    tarball = poncho.create(analysis.spec)          # spec -> cached env tarball
    env = poncho.prepare(tarball, unpack_to="/tmp/env")   # on a worker: unpack once, locked
    subprocess.run(env.command(["python", "task.py"]), env=env.environ())

Attributes are imported on first use, so `import poncho` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "Spec": ("poncho_spec", "Spec"),
    "load_spec": ("poncho_spec", "load_spec"),
    "dump_spec": ("poncho_spec", "dump_spec"),
    "PonchoError": ("poncho_spec", "PonchoError"),
    "InvalidSpec": ("poncho_spec", "InvalidSpec"),
    "analyze": ("poncho_analyze", "analyze"),
    "create": ("poncho_create", "create"),
    "prepare": ("poncho_run", "prepare"),
    "PreparedEnvironment": ("poncho_run", "PreparedEnvironment"),
    "fetch": ("poncho_fetch", "fetch"),
}

__all__ = [
    "InvalidSpec",
    "PonchoError",
    "PreparedEnvironment",
    "Spec",
    "__version__",
    "analyze",
    "create",
    "dump_spec",
    "fetch",
    "load_spec",
    "prepare",
]

if TYPE_CHECKING:
    from poncho_analyze import analyze
    from poncho_create import create
    from poncho_fetch import fetch
    from poncho_run import PreparedEnvironment, prepare
    from poncho_spec import InvalidSpec, PonchoError, Spec, dump_spec, load_spec


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'poncho' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

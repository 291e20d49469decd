"""Point code written for CCTools (``from ndcctools.poncho import package_create``) at this
Poncho, at run time, without installing anything into CCTools' ``ndcctools`` namespace::

    import poncho.ndcctools_alias
    poncho.ndcctools_alias.install()     # before the code that imports ndcctools.poncho

    from ndcctools.poncho import package_create     # now poncho.package_create

With CCTools installed (TaskVine's Python API is in ``ndcctools``), only the two modules
``ndcctools.poncho.package_create`` and ``ndcctools.poncho.package_analyze`` are replaced,
in this process; TaskVine itself is untouched. Without CCTools, bare ``ndcctools`` and
``ndcctools.poncho`` modules are made in memory to hold them.
"""

from __future__ import annotations

import importlib
import sys
import types

__all__ = ["ALIASES", "install"]

ALIASES = {
    "ndcctools.poncho.package_create": "poncho.package_create",
    "ndcctools.poncho.package_analyze": "poncho.package_analyze",
}
"""Module of CCTools -> the module of this Poncho that stands in for it."""


def install() -> None:
    """Make the CCTools module names in :data:`ALIASES` import this Poncho's modules."""
    parent = _module("ndcctools.poncho")
    for name, ours in ALIASES.items():
        module = importlib.import_module(ours)
        sys.modules[name] = module
        setattr(parent, name.rsplit(".", 1)[1], module)


def _module(name: str) -> types.ModuleType:
    """The module `name`, imported if it is installed, else an empty one made in memory."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    head, _, tail = name.rpartition(".")
    module = types.ModuleType(name, "stand-in made by poncho.ndcctools_alias")
    module.__path__ = []  # a package, so that submodule names resolve
    sys.modules[name] = module
    if head:
        setattr(_module(head), tail, module)
    return module

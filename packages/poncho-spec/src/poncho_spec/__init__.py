"""The Poncho environment spec: model, validation, canonical hash, JSON Schema.

>>> spec = loads_spec('{"conda": {"dependencies": ["python=3.11", {"pip": ["dill"]}]}}')
>>> spec.conda.channels, spec.pip
(('conda-forge',), ('dill',))

Importing this package is cheap (workers import it for every task): `packaging` and
py-rattler are imported only when pip or conda entries are checked.
"""

from __future__ import annotations

from poncho_spec.errors import InvalidSpec, PonchoError, Problem, SpecNotFound
from poncho_spec.io import dump_spec, dumps_spec, load_spec, loads_spec
from poncho_spec.model import DEFAULT_CHANNELS, CondaSection, GitSource, HttpSource, Spec
from poncho_spec.schema import json_schema

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CHANNELS",
    "CondaSection",
    "GitSource",
    "HttpSource",
    "InvalidSpec",
    "PonchoError",
    "Problem",
    "Spec",
    "SpecNotFound",
    "__version__",
    "dump_spec",
    "dumps_spec",
    "json_schema",
    "load_spec",
    "loads_spec",
]

"""Find a Python program's third-party imports and write a pinned Poncho spec.

>>> from poncho_analyze import analyze
>>> result = analyze(["job.py"])            # doctest: +SKIP
>>> result.spec.conda.dependencies          # doctest: +SKIP
('python=3.11.7', 'numpy=1.26.4', 'pip', ...)
"""

from __future__ import annotations

from poncho_analyze.api import Analysis, analyze
from poncho_analyze.errors import (
    AnalyzeError,
    FunctionNotFound,
    LocalImports,
    ParseFailed,
    ScriptMetadataError,
    SourceError,
    UnresolvedImports,
)
from poncho_analyze.imports import FileImports, Import, find_imports, scan_files
from poncho_analyze.mapping import Environment, Mapper, Owner
from poncho_analyze.specgen import Decision

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "AnalyzeError",
    "Decision",
    "Environment",
    "FileImports",
    "FunctionNotFound",
    "Import",
    "LocalImports",
    "Mapper",
    "Owner",
    "ParseFailed",
    "ScriptMetadataError",
    "SourceError",
    "UnresolvedImports",
    "__version__",
    "analyze",
    "find_imports",
    "scan_files",
]

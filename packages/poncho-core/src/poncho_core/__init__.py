"""Poncho's shared machinery, standard library only: `errors`, `fs`, `lock`,
`compression` and `extract`.

Import the submodules: the package itself loads only `errors`, so that each user pays for
what it uses (the worker's warm path, in sh, imports none of it).
"""

from __future__ import annotations

from poncho_core.errors import PonchoError

__all__ = ["PonchoError"]
__version__ = "0.1.0"

"""Every form of import the analyzer must find.

import not_an_import_in_a_docstring
"""

from __future__ import annotations

import os.path
import alpha.beta as ab, gamma
from delta import epsilon, zeta
from eta.theta import *
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import only_for_typing
else:
    import not_type_checking

try:
    import ujson as json
except ImportError:
    import json

if os.name == "nt":
    import windows_only
elif os.name == "posix":
    import posix_only


def work():
    import in_function
    from inner.mod import thing

    def nested():
        import in_nested

    return nested


class Model:
    import in_class_body

    async def fit(self):
        import in_method
        mod = __import__("dunder_import")
        other = importlib.import_module("via_importlib.sub")
        computed = importlib.import_module(os.environ["X"])
        return mod, other, computed


with contextlib.suppress(ImportError):
    import suppressed

text = "import inside_a_string"  # import inside_a_comment

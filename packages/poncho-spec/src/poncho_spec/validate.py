"""Check a decoded spec document, collecting every problem with its JSON path, and build the
model from it.

Accepted forms (legacy CCTools forms are read transparently and converted):

- ``conda``: an object with ``channels`` (strings), ``dependencies`` (match-spec strings
  and ``{"pip": [...]}`` entries, as conda environment files allow), legacy ``packages``
  (same as ``dependencies``) and ``name`` (accepted and ignored, with a warning; it is not
  part of the environment). ``prefix`` is an error: an absolute, user-specific path. The
  oldest CCTools form, ``"conda": [...]``, is a list of dependencies.
- ``pip``: the legacy top-level list of pip entries, merged with the nested one.
- ``git``: ``{VAR: {"remote": ..., "ref": ...}}``; ``ref`` should be a full commit sha; a
  branch, tag, short sha or missing ref (meaning "HEAD") is accepted with a warning.
- ``http``: ``{VAR: {"url": ..., "type": "file"|"tar", "compression": ..., "sha256": ...}}``.

- ``pinned``: ``{"conda": {PACKAGE: VERSION}}`` (CCTools): packages held at a version.
- top-level ``name``, ``prefix`` and ``variables`` (``conda env export`` writes them, and
  CCTools' analyze with it): accepted with a warning and ignored (CCTools never set
  ``variables`` either).

Unknown keys are errors at every level. Variable names must be valid shell names, unique
across ``git`` and ``http``, and not one of the variables an environment relies on or that
change how processes start (``LD_*``, ``BASH_ENV``, ``PYTHON*``, ``GIT_*``...: see
:mod:`poncho_spec._variables`). URLs must parse and hold no whitespace or control characters.
Non-portable details (absolute paths, home folders) give warnings; passwords in URLs and
``conda.prefix`` are errors.

The rules live in :mod:`poncho_spec._rules`, the walk through a document in
:mod:`poncho_spec._build`; this module keeps their public names.
"""

from __future__ import annotations

from pathlib import Path

from poncho_spec._document import DuplicateKeysDict, json_path
from poncho_spec._rules import (
    COMPRESSIONS,
    CONDA_KEYS,
    GIT_KEYS,
    HTTP_KEYS,
    HTTP_TYPES,
    IGNORED_TOP_KEYS,
    TOP_KEYS,
    unknown_key,
    url_problem,
)
from poncho_spec._variables import RESERVED_PREFIXES, RESERVED_VARIABLES
from poncho_spec.model import Spec

__all__ = [
    "COMPRESSIONS",
    "CONDA_KEYS",
    "GIT_KEYS",
    "HTTP_KEYS",
    "HTTP_TYPES",
    "IGNORED_TOP_KEYS",
    "RESERVED_PREFIXES",
    "RESERVED_VARIABLES",
    "TOP_KEYS",
    "DuplicateKeysDict",
    "build_spec",
    "json_path",
    "unknown_key",
    "url_problem",
]


def build_spec(data: object, *, source: str | None = None, base_dir: Path | None = None) -> Spec:
    """Validate `data` (a decoded JSON document) and build the Spec; see the module doc.

    Raises InvalidSpec with every problem found.
    """
    return Spec.from_dict(data, source=source, base_dir=base_dir)

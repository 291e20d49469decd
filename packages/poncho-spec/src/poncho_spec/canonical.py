"""The canonical form of a spec and its content hash.

The hash names cached environments, so two specs that mean the same environment must hash
the same, and any change of meaning must change it. The canonical form is itself a valid
spec in modern form (loading it gives the same hash), built by these rules:

1. Modern form only: legacy ``conda.packages`` and a ``conda`` list are conda
   dependencies; the legacy top-level ``pip`` list and every nested ``{"pip": [...]}``
   entry are one pip list, written as the last conda dependency ``{"pip": [...]}`` (left
   out when empty). ``conda.name`` is not part of the environment and is dropped.
2. ``conda.channels`` keeps its order (it is conda's channel priority); repeated channels
   keep their first place only. A missing or empty list is ``["conda-forge"]``
   (``DEFAULT_CHANNELS``), so those two hash the same.
3. Conda dependencies are put in their normal form (:func:`poncho_spec.matchspec.normalize`:
   package name lowercased, whitespace normalised, operators never rewritten; it does not
   depend on py-rattler being installed), then sorted with duplicates removed.
4. Pip requirements are put in their normal form with `packaging`: name canonicalised
   (PEP 503), extras canonicalised and sorted, version specifiers sorted, markers in
   packaging's form. Local paths: ``posixpath.normpath``, relative ones start with ``./``;
   a ``~`` path is normalised below its home folder (``~/../x`` stays, never ``x``).
   Then sorted, duplicates removed.
5. ``git`` and ``http`` are objects keyed by variable name (JSON keys are sorted).
   A git entry has ``remote`` and ``ref`` (a missing ref is ``"HEAD"``; a hex ref is
   lowercased). An http entry always has ``url``, ``type`` (default ``"file"``),
   ``compression`` and ``sha256`` (``null`` when absent, lowercase hex otherwise).
   Empty sections are left out.
6. The text is ``json.dumps(form, sort_keys=True, separators=(",", ":"),
   ensure_ascii=False)``; the hash is the sha256 hex digest of its UTF-8 bytes.

Not normalised (so they change the hash although they may mean the same): the order of
channels, version spellings (``1.0`` vs ``1.0.0``; conda's ``=1.2`` vs ``1.2.*``), URLs.
The content behind a local path, a URL or a git branch is not part of the hash either.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poncho_spec.model import Spec

__all__ = ["canonical_dict", "canonical_json", "hash_canonical"]

_HEX_REF = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


def canonical_dict(spec: Spec) -> dict[str, Any]:
    """The canonical form of `spec` as JSON-ready data."""
    from poncho_spec import _pip, matchspec

    channels = list(dict.fromkeys(spec.conda.channels))
    dependencies: list[Any] = sorted({matchspec.normalize(d) for d in spec.conda.dependencies})
    pip = sorted({_pip.normalize(p) for p in spec.pip})
    if pip:
        dependencies.append({"pip": pip})
    out: dict[str, Any] = {"conda": {"channels": channels, "dependencies": dependencies}}
    if spec.git:
        out["git"] = {
            var: {
                "remote": g.remote,
                "ref": g.ref.lower() if _HEX_REF.fullmatch(g.ref) else g.ref,
            }
            for var, g in spec.git.items()
        }
    if spec.http:
        out["http"] = {
            var: {
                "url": h.url,
                "type": h.type,
                "compression": h.compression,
                "sha256": h.sha256.lower() if h.sha256 else None,
            }
            for var, h in spec.http.items()
        }
    if spec.pinned:  # pins change what is solved: part of the hash
        out["pinned"] = {"conda": dict(sorted(spec.pinned.items()))}
    return out


def canonical_json(spec: Spec) -> str:
    """The canonical form of `spec` as compact JSON text with sorted keys."""
    return json.dumps(
        canonical_dict(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def hash_canonical(text: str) -> str:
    """sha256 hex digest of a canonical JSON text."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()

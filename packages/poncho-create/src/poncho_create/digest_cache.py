"""The digest cache: the sha256 of a prefix's files, keyed by what ``stat`` says of them, so
packing a prefix again hashes only the files that changed.

One small JSON file per prefix path, ``<cache dir>/.digests/<sha256 of the path>[:16].json``
(a hidden folder of the environment cache, never part of a local folder's digest):
``{"digests_version": 1, "files": {PATH: [st_dev, st_ino, size, mtime_ns, variant, sha256]}}``
(`variant` names a transformation of the data, such as a ``.pyc`` whose header is rewritten:
"" for the file's own bytes). It is replaced whole (atomically) after a pack and holds the
files of that pack only, so it never outgrows the prefix; at most `MAX_FILES` such files are
kept (the least recently written go first). A file changed within `RACY_NS` of being hashed
is not recorded: a later change within the same mtime tick could not be seen.
A cache that cannot be read or written is ignored (it only saves time).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from poncho_core.fs import atomic_write

__all__ = ["DIGESTS_DIR", "MAX_FILES", "RACY_NS", "DigestCache"]

log = logging.getLogger(__name__)

DIGESTS_DIR = ".digests"
MAX_FILES = 32
RACY_NS = 2_000_000_000
_VERSION = 1

Stamp = tuple[int, int, int, int, str]


def stamp(st: os.stat_result, variant: str = "") -> Stamp:
    """What a digest is recorded with: device, inode, size, mtime (ns) and `variant`."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, variant)


class DigestCache:
    """The digests known for the prefix `prefix`, kept under `root` (None: nothing is
    kept, every lookup misses)."""

    def __init__(self, root: Path | None, prefix: str) -> None:
        self._path = None
        if root is not None:
            name = hashlib.sha256(os.fsencode(Path(prefix).absolute())).hexdigest()[:16]
            self._path = Path(root) / DIGESTS_DIR / f"{name}.json"
        self._known: dict[str, tuple[Stamp, str]] = self._load()
        self._seen: dict[str, tuple[Stamp, str]] = {}
        self.hits = 0

    def lookup(self, path: str, st: os.stat_result, variant: str = "") -> str | None:
        """The recorded sha256 of `path` if its stat (`st`) and `variant` are the same."""
        known = self._known.get(path)
        if known is None or known[0] != stamp(st, variant):
            return None
        self._seen[path] = known
        self.hits += 1
        return known[1]

    def record(self, path: str, st: os.stat_result, sha256: str, variant: str = "") -> None:
        """Note `sha256` as the digest of `path` with stat `st` (unless it changed lately)."""
        if time.time_ns() - st.st_mtime_ns > RACY_NS:
            self._seen[path] = (stamp(st, variant), sha256)

    def save(self) -> None:
        """Write the digests looked up or recorded since loading (best effort)."""
        if self._path is None:
            return
        files = {p: [*s, sha] for p, (s, sha) in sorted(self._seen.items())}
        document = {"digests_version": _VERSION, "files": files}
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self._path, json.dumps(document, separators=(",", ":")))
        except OSError as exc:
            log.debug("digest cache %s not written: %s", self._path, exc)
            return
        self._prune()

    def _load(self) -> dict[str, tuple[Stamp, str]]:
        if self._path is None:
            return {}
        try:
            document = json.loads(self._path.read_bytes())
            if document.get("digests_version") != _VERSION:
                return {}
            return {
                path: ((int(d), int(i), int(s), int(m), str(v)), str(sha))
                for path, (d, i, s, m, v, sha) in document["files"].items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.debug("digest cache %s ignored: %s", self._path, exc)
            return {}

    def _prune(self) -> None:
        assert self._path is not None
        with contextlib.suppress(OSError):
            kept = sorted(self._path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
            for old in kept[:-MAX_FILES]:
                old.unlink(missing_ok=True)

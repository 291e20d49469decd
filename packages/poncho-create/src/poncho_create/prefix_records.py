"""The files ``bin/conda-unpack`` rewrites: conda-pack's prefix records, less the files
that do not hold the prefix.

conda-pack lists every unmanaged text file of the prefix (what pip installed: a
distribution's ``METADATA``, its ``.py`` files) as one to rewrite, without looking for the
prefix in it (its ``file_mode='unknown'``). ``conda-unpack`` then opens each listed file
for reading and writing where the environment is unpacked, and replaces the placeholder;
in a file that does not hold it, both the text and the binary replacement change nothing.
On the benchmarks' real environment (numpy, scipy, pandas, scikit-learn, matplotlib from
PyPI) 5,951 of its 14,750 files were listed, nearly every one without the prefix.

Listing only the files that hold it gives the same relocated tree, opens fewer files in
every relocation (conda-unpack as poncho-run, CCTools' runner and TaskVine run it), and
leaves the others shareable: poncho-run's node store never links a listed file (conda-unpack
would open it for writing), and the index's ``prefix`` flags follow this list.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PrefixWatch"]


class PrefixWatch:
    """conda-pack's archive `archive` for a ``Packer`` of `prefix`, noting which files
    handed over as bytes (every one whose prefix conda-pack may record) lack the prefix;
    `prune` then drops their records before ``Packer.finish`` writes ``bin/conda-unpack``.
    Anything else is the archive's."""

    def __init__(self, archive: Any, prefix: str) -> None:
        self._archive = archive
        self._prefix = prefix
        self._placeholder = prefix.encode("utf-8")
        self.lacking: set[str] = set()

    def add(self, source: str, target: str) -> None:
        """Add the file `source` as `target` (its records, if any, are kept)."""
        self.lacking.discard(target)
        self._archive.add(source, target)

    def add_bytes(self, source: str, sourcebytes: bytes, target: str) -> None:
        """Add `sourcebytes` as `target`, noting whether they hold the prefix."""
        if self._placeholder in sourcebytes:
            self.lacking.discard(target)
        else:
            self.lacking.add(target)
        self._archive.add_bytes(source, sourcebytes, target)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._archive, name)

    def prune(self, packer: Any) -> int:
        """Drop from ``packer.prefixes`` the records of files whose bytes lack their
        placeholder (the prefix); returns how many were dropped."""
        records = packer.prefixes
        kept = [
            record
            for record in records
            if not (record[1] == self._prefix and record[0] in self.lacking)
        ]
        dropped = len(records) - len(kept)
        records[:] = kept
        return dropped

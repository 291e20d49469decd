"""The identity of the archive a folder was unpacked from, so that ``-u DIR`` is never
silently reused for another archive (issue 12).

Recorded in the state at unpack time: the archive's size, modification time, a digest of a
few blocks (`sample`) and the sha256 of the whole file (computed by a thread while the
archive is extracted, so it costs no extra wall time). Checked on later runs given ``-e``:

- another size: another archive;
- same size and mtime, same sample: the same archive (no full read);
- same size, another mtime (Work Queue copies the tarball into each sandbox with a new
  mtime) or another sample: the full sha256 decides.
"""

# str paths and os calls: on the warm path.
# ruff: noqa: PTH100, PTH116

from __future__ import annotations

import os

from poncho_core.fs import file_sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Mapping
    from typing import Any

__all__ = ["ArchiveHasher", "difference", "matches", "sample_digest"]

_BLOCK = 1 << 16


def sample_digest(path: str, size: int) -> str:
    """sha256 of the first, middle and last 64 KiB of the file at `path` (`size` bytes)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for offset in sorted({0, max(0, size // 2 - _BLOCK // 2), max(0, size - _BLOCK)}):
            file.seek(offset)
            digest.update(file.read(_BLOCK))
    return digest.hexdigest()


class ArchiveHasher:
    """Computes the identity of `path` on a thread (`start`), collected by `result`."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._result: dict[str, Any] = {}
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ArchiveHasher:
        """Start hashing in the background."""
        import threading

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            info = os.stat(self.path)
            self._result = {
                "path": self.path,
                "size": info.st_size,
                "mtime": int(info.st_mtime),
                "mtime_ns": info.st_mtime_ns,
                "sample": sample_digest(self.path, info.st_size),
                "sha256": file_sha256(self.path),
            }
        except OSError as exc:
            self._error = exc

    def result(self) -> dict[str, Any] | None:
        """The identity (None if the archive could not be read again)."""
        if self._thread is not None:
            self._thread.join()
        return None if self._error is not None else self._result


def matches(path: str, recorded: Mapping[str, Any]) -> bool:
    """Whether the archive at `path` is the one `recorded` describes (see the module)."""
    info = os.stat(path)
    if info.st_size != recorded.get("size"):
        return False
    if info.st_mtime_ns == recorded.get("mtime_ns") and sample_digest(
        path, info.st_size
    ) == recorded.get("sample"):
        return True
    return file_sha256(path) == recorded.get("sha256")


def difference(path: str, recorded: Mapping[str, Any]) -> str:
    """How the archive at `path` differs from the one `recorded` describes, for a message:
    its size, else its sha256 (a new read: only when `matches` said it differs)."""
    try:
        size = os.stat(path).st_size
        if size != recorded.get("size"):
            return f"{size} bytes, not {recorded.get('size')}"
        digest = file_sha256(path)
    except OSError:
        return ""
    return f"sha256 {digest[:12]}..., not {str(recorded.get('sha256'))[:12]}..."

"""A build-once folder cache shared by concurrent processes (pytest-xdist, parallel tox envs)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from poncho_core.fs import rmtree

logger = logging.getLogger(__name__)

#: The marker written last into a finished entry; an entry without it is not used.
COMPLETE_MARKER = ".poncho-testing-complete"


def cache_root() -> Path:
    """``$PONCHO_TESTING_CACHE``, else ``~/.cache/poncho-testing``."""
    env = os.environ.get("PONCHO_TESTING_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "poncho-testing"


#: How long a test process waits for another one building the same entry (a channel build
#: takes a minute at most; a hung builder must not hang the whole test run).
BUILD_WAIT = 1800.0


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block: poncho-core's
    lock, waiting at most `BUILD_WAIT` seconds."""
    from poncho_core.lock import acquire

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = acquire(path, timeout=BUILD_WAIT, what=f"test cache {path.parent}")
    assert lock is not None  # only a timeout of 0 or done() give None
    with lock:
        yield


def cached_dir(root: Path, key: str, build: Callable[[Path], None]) -> Path:
    """``root/key``, built once by ``build(tmp_dir)`` and moved into place atomically.

    A finished entry is returned without taking the lock. Otherwise the builder runs under an
    exclusive lock, in a temporary folder next to the entry, which is renamed into place only
    when the build succeeded: concurrent callers wait and then reuse it, and a crash leaves
    nothing half-built under the final name.
    """
    final = root / key
    if (final / COMPLETE_MARKER).exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / f".{key}.lock"):
        if (final / COMPLETE_MARKER).exists():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=root))
        tmp.chmod(0o755)  # mkdtemp makes it private
        try:
            logger.info("building %s", final)
            build(tmp)
            (tmp / COMPLETE_MARKER).touch()
            if final.exists():  # left over by a build from before the marker existed
                rmtree(final)
            tmp.replace(final)
        finally:
            if tmp.exists():
                with contextlib.suppress(OSError):
                    rmtree(tmp)
    return final

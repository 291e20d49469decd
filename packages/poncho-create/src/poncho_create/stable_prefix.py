"""Where a build installs its environment: a path that depends on the spec only, so that two
builds of the same spec give the same bytes (issue 26 item 5).

The build prefix is written into the environment: into the scripts and text files conda-pack
records for ``bin/conda-unpack``, and into every ``.pyc`` file (its code objects name their
source file). A random temporary folder made every build's tarball different. The prefix is
``<tmp>/poncho-create-env-<digest of spec hash and platform>``, held under the lock
``<prefix>.lock`` for the build's life (a second build of the same spec at the same time
waits; a folder left by a killed build is removed by the next one, or by any later
create's sweep of build folders, `poncho_create.build_folders`); both are removed afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from poncho_core.fs import rmtree
from poncho_core.lock import acquire
from poncho_create.build_folders import PREFIX, SIBLING_LOCK

__all__ = ["stable_prefix"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def stable_prefix(parent: Path, spec_hash: str, platform: str) -> Iterator[Path]:
    """The (not yet existing) prefix folder for a build of `spec_hash` for `platform`
    under `parent`, locked for the ``with`` block and removed at its end."""
    digest = hashlib.sha256(f"{spec_hash}-{platform}".encode()).hexdigest()[:16]
    prefix = parent.resolve() / f"{PREFIX}env-{digest}"

    def waiting(pid: int | None) -> None:
        log.info("waiting for another build of the same spec (pid %s) in %s", pid, prefix)

    with _locked(Path(f"{prefix}{SIBLING_LOCK}"), waiting):
        if prefix.exists() or prefix.is_symlink():
            log.info("removing %s, left by an earlier build", prefix)
            rmtree(prefix)
        try:
            yield prefix
        finally:
            with contextlib.suppress(OSError):  # a temporary folder: best effort
                rmtree(prefix)


@contextlib.contextmanager
def _locked(path: Path, waiting: Callable[[int | None], None]) -> Iterator[None]:
    """Hold the lock file `path`, and remove it at the end (nothing stays in the temporary
    folder): a waiter that then gets the lock of the removed file tries again."""
    while True:
        held = acquire(path, what=f"the build folder {path.with_suffix('')}", on_wait=waiting)
        assert held is not None  # no timeout, no done(): None is never returned
        try:
            same = path.stat().st_ino == os.fstat(held.fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        held.release()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        held.release()

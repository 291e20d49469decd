"""The environment cache: tarballs named by what they were built from.

Name: ``<spec hash>-<platform>.<format>``, plus ``-<12 hex>`` before the format when the
build also depends on options (channel changes, pip index options, a lock) or on local
files (the spec's local pip paths, ``--find-links`` folders); the hex is a sha256 of those.
Entries appear atomically (``os.replace`` of a complete file), so a
lookup needs no lock; builders of the same entry take an exclusive ``flock`` on
``.locks/<name>.lock`` so a second concurrent build waits and then finds the first one's
tarball.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["EnvCache", "cache_name"]


def cache_name(
    spec_hash: str,
    platform: str,
    fmt: str,
    *,
    channels: Sequence[str] | None = None,
    pip_options: Sequence[str] = (),
    lock_digest: str | None = None,
    local_inputs: str | None = None,
) -> str:
    """The cache file name for a build. `channels` is the channel list when it differs from
    the spec's own; `pip_options` the index options given; `lock_digest` the sha256 of the
    lock file used with ``--from-lock``; `local_inputs` the digest of the local pip paths
    and ``--find-links`` folders (see `poncho_create.local_inputs`)."""
    variant = {
        key: value
        for key, value in (
            ("channels", list(channels) if channels is not None else None),
            ("pip", list(pip_options) or None),
            ("lock", lock_digest),
            ("local", local_inputs),
        )
        if value is not None
    }
    name = f"{spec_hash}-{platform}"
    if variant:
        blob = json.dumps(variant, sort_keys=True, separators=(",", ":")).encode()
        name += "-" + hashlib.sha256(blob).hexdigest()[:12]
    return f"{name}.{fmt}"


class EnvCache:
    """A folder of environment tarballs (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        """Where the entry `name` lives (it may not exist)."""
        return self.root / name

    def lookup(self, name: str) -> Path | None:
        """The entry's path if it exists, else None."""
        path = self.path(name)
        return path if path.is_file() else None

    @contextlib.contextmanager
    def building(self, name: str) -> Iterator[None]:
        """Hold the exclusive build lock of `name` (blocks while another process holds it)."""
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

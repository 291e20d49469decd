"""The environment cache around a build: the cache name of a build (the spec hash, the
platform and format, and a digest of whatever else changes the result), a hit (its last use
noted, its lock written to ``--lock-out``), and waiting for another build of the same spec."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from poncho_create.cache import EnvCache, cache_name
from poncho_create.errors import CreateError
from poncho_create.options import CreateOptions
from poncho_create.progress import Reporter
from poncho_spec import Spec

__all__ = ["build_cached", "build_wait", "entry_name"]

log = logging.getLogger(__name__)


def build_cached(
    spec: Spec,
    options: CreateOptions,
    fmt: str,
    channels: tuple[str, ...],
    report: Reporter,
    build: Callable[[Path], Path],
) -> Path:
    """The cached tarball of this build, else ``build(target)`` into the cache under the
    build's lock: another build of the same name is waited for (``$PONCHO_CREATE_WAIT``),
    and its result served. With ``--keep-prefix`` (the prefix is wanted) or ``--force``
    the cache is not read, but still written."""
    cache = EnvCache(options.cache_dir)
    name = entry_name(spec, options, fmt, channels)
    reuse = options.keep_prefix is None and not options.force
    if reuse:
        hit = cache.lookup(name)
        if hit is not None:
            with contextlib.suppress(OSError):  # its last use (atime), for `poncho cache prune`
                os.utime(hit, ns=(time.time_ns(), hit.stat().st_mtime_ns))
            _lock_of_hit(hit, options.lock_out)
            report.finish("cache", 1, 1, "tarballs", f"cache hit: {hit}")
            log.info("cache hit: %s", hit)
            return hit

    def waiting(pid: int | None) -> None:
        holder = f" (pid {pid})" if pid is not None else ""
        log.info("waiting for another build of this spec%s", holder)
        report("cache", 0, None, "builds", f"waiting for another build of this spec{holder}")

    with cache.building(name, on_wait=waiting, timeout=build_wait()):
        hit = cache.lookup(name)
        if hit is not None and reuse:
            _lock_of_hit(hit, options.lock_out)
            report.finish("cache", 1, 1, "tarballs", f"built meanwhile: {hit}")
            return hit
        return build(cache.path(name))


def entry_name(spec: Spec, options: CreateOptions, fmt: str, channels: tuple[str, ...]) -> str:
    """The cache name of this build: everything that decides the tarball is in it (the
    spec, platform and format; channel changes; for pip entries, the index options and,
    with ``--pip-config``, pip's configuration; the lock; local sources; a compression
    level given)."""
    pip: list[str] = []
    if spec.pip:  # pip options change nothing for a spec without pip entries
        from poncho_create.local_inputs import pip_config_digest

        pip = options.pip.args()
        if options.pip_config:
            pip += ["--pip-config", pip_config_digest()]
    level = options.compression_level if fmt != "tar" else None
    return cache_name(
        spec.hash(),
        options.platform,
        fmt,
        channels=_channels_key(spec, channels, options),
        pip_options=pip,
        lock_digest=_digest(options.from_lock) if options.from_lock is not None else None,
        local_inputs=_local_inputs(spec, options),
        level=level,
    )


def _local_inputs(spec: Spec, options: CreateOptions) -> str | None:
    """Digest of the local files the pip step reads (None: there are none)."""
    if not spec.pip:
        return None
    from poncho_create.local_inputs import local_inputs_digest
    from poncho_create.pip_sources import is_path_entry, resolve_path

    paths = []
    for entry in spec.pip:
        if is_path_entry(entry, spec.base_dir):
            try:
                paths.append(resolve_path(entry, spec.base_dir))
            except CreateError:
                continue  # missing: the build names it
    return local_inputs_digest(paths, options.find_links)


def _channels_key(
    spec: Spec, channels: tuple[str, ...], options: CreateOptions
) -> list[str] | None:
    """The channels part of the cache key: None for the spec's own channels read from their
    own places, else what the build really reads (names and the locations they map to)."""
    sources = options.channel_sources(channels)
    if channels == tuple(spec.conda.channels) and sources == channels:
        return None
    return [*channels, *(s for c, s in zip(channels, sources, strict=True) if s != c)]


def _lock_of_hit(tarball: Path, lock_out: Path | None) -> None:
    """A cache hit writes ``--lock-out`` too: the lock the cached tarball holds."""
    if lock_out is None:
        return
    from poncho_core.fs import atomic_write
    from poncho_create.pack import read_member

    data = read_member(tarball, "poncho/lock.json")
    if data is None:
        raise CreateError(f"{tarball}: the cached tarball holds no poncho/lock.json")
    lock_out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(lock_out, data)


def build_wait() -> float:
    """How long to wait for another build of the same spec: ``$PONCHO_CREATE_WAIT``
    seconds, else an hour (a cold build of a large environment takes minutes)."""
    text = os.environ.get("PONCHO_CREATE_WAIT", "3600")
    try:
        seconds = float(text)
    except ValueError:
        raise CreateError(f"$PONCHO_CREATE_WAIT: {text!r} is not a number of seconds") from None
    if not seconds >= 0:
        raise CreateError(f"$PONCHO_CREATE_WAIT: {text!r} is not a number of seconds")
    return seconds


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

"""``create --dry-run``: what a build would solve, install and reuse from the environment
cache, without writing anything (no prefix, no tarball, no cache entry, no OUTPUT).

A cache hit is answered from the cached tarball's own lock (nothing is solved); otherwise
the conda part is solved (downloading repodata, as a build would) or read from
``--from-lock``, and the pip entries are listed as the spec gives them (pip resolves them
during the build). With ``--conda-exe`` the external conda solves at build time only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poncho_create.cache import EnvCache
from poncho_create.cached_build import entry_name
from poncho_create.lock import Lock
from poncho_create.prepare import Prepared, check_offline, conda_dependencies
from poncho_create.progress import Reporter

__all__ = ["DryRun", "dry_run"]


@dataclass(frozen=True)
class DryRun:
    """What a create would do. `path` is what it would return (OUTPUT, else the cache
    entry); `conda` the packages (name, version, build, channel) it would install, None
    when only the external conda can tell; `pip` the pip entries (as locked on a hit)."""

    path: Path
    cache_entry: Path
    cache_hit: bool
    spec_hash: str
    platform: str
    conda: tuple[dict[str, str], ...] | None
    pip: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``create --dry-run --json``)."""
        return {
            "dry_run": True,
            "path": str(self.path.absolute()),
            "cache_entry": str(self.cache_entry.absolute()),
            "cache_hit": self.cache_hit,
            "spec_hash": self.spec_hash,
            "platform": self.platform,
            "conda": list(_sorted(self.conda)) if self.conda is not None else None,
            "pip": list(self.pip),
        }


def dry_run(ready: Prepared, output: Path | None, report: Reporter) -> DryRun:
    """The plan of a build (inputs prepared as `poncho_create.create` does); ``--offline``
    refuses a channel a solve would fetch, as the build would."""
    spec, options, lock, fmt, channels = (
        ready.spec,
        ready.options,
        ready.lock,
        ready.fmt,
        ready.channels,
    )
    entry = EnvCache(options.cache_dir).path(entry_name(spec, options, fmt, channels))
    reuse = options.keep_prefix is None and not options.force
    path = output if output is not None else entry

    def answer(hit: bool, conda: tuple[dict[str, str], ...] | None, pip: tuple[str, ...]) -> DryRun:
        return DryRun(path, entry, hit, spec.hash(), options.platform, conda, pip)

    if reuse and entry.is_file():
        cached = _cached_lock(entry)
        conda = tuple(_conda(e.name, e.version, e.build, e.channel) for e in cached.conda)
        pip = tuple(f"{e.name}=={e.version}" for e in cached.pip)
        return answer(True, conda, pip)
    pip_entries = tuple(spec.pip or ())
    if lock is not None:
        conda = tuple(_conda(e.name, e.version, e.build, e.channel) for e in lock.conda)
        return answer(False, conda, pip_entries)
    if options.conda_exe is not None:
        return answer(False, None, pip_entries)
    from poncho_create.engine_rattler import solve

    if options.offline:
        check_offline(ready)
    options.pkgs_dir.mkdir(parents=True, exist_ok=True)
    records = solve(
        conda_dependencies(spec),
        options.channel_sources(channels),
        options.platform,
        options.pkgs_dir,
        report,
        native=options.native,
        constraints=list(spec.pinned_specs()),
    )
    conda = tuple(
        _conda(r.name.normalized, str(r.version), str(r.build), str(r.channel or ""))
        for r in records
    )
    return answer(False, conda, pip_entries)


def _cached_lock(tarball: Path) -> Lock:
    from poncho_create.errors import CreateError
    from poncho_create.pack import read_member

    data = read_member(tarball, "poncho/lock.json")
    if data is None:
        raise CreateError(f"{tarball}: the cached tarball holds no poncho/lock.json")
    return Lock.from_dict(json.loads(data), source=str(tarball))


def _conda(name: str, version: str, build: str, channel: str) -> dict[str, str]:
    return {"name": name, "version": version, "build": build, "channel": channel}


def _sorted(packages: tuple[dict[str, str], ...]) -> tuple[dict[str, str], ...]:
    return tuple(sorted(packages, key=lambda p: p["name"]))

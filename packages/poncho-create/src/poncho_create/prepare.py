"""A build's inputs made ready, before any work: the spec loaded (or converted), a
``--from-lock`` lock checked against it, the output format and the channels; shared by
`poncho_create.create` and its ``--dry-run``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from poncho_core.verbosity import NOTE
from poncho_create.errors import CreateError
from poncho_create.git_refs import carried_spec
from poncho_create.lock import Lock
from poncho_create.options import DEFAULT_FORMAT, CreateOptions, archive_format
from poncho_spec import Spec, load_spec, matchspec

__all__ = ["Prepared", "conda_dependencies", "load", "prepare"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """The inputs of one build: `options` take a lock's platform when none was given."""

    spec: Spec
    options: CreateOptions
    lock: Lock | None
    fmt: str
    channels: tuple[str, ...]


def prepare(
    spec_or_path: Spec | Mapping[str, Any] | str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    options: CreateOptions,
    given: Mapping[str, Any],
) -> Prepared:
    """Load the spec (its warnings logged), read and check ``--from-lock``, pick the format
    from `output` and check the compression level for it."""
    # Relative git remotes mean the spec's folder: stored resolved (and hashed so).
    spec = load(spec_or_path).with_resolved_remotes()
    for warning in spec.warnings:  # a local channel is on purpose (analyze writes them): -v
        local = warning.startswith("conda.channels[")
        log.log(logging.INFO if local else logging.WARNING, "%s", warning)
    lock: Lock | None = None
    if options.from_lock is not None:
        lock = Lock.read(options.from_lock)
        if not given.get("platform"):
            options = replace(options, platform=lock.platform)
        elif lock.platform != options.platform:
            raise CreateError(
                f"{options.from_lock}: the lock is for {lock.platform}, not {options.platform}"
            )
        if lock.spec_hash not in (spec.hash(), carried_spec(spec, lock.git).hash()):
            raise CreateError(
                f"{options.from_lock}: this lock was made from another spec (spec_hash "
                f"{lock.spec_hash[:12]}..., this spec's is {spec.hash()[:12]}...): lock this "
                "spec with --lock-out, or give the spec the lock was made from"
            )
    fmt = archive_format(output) if output is not None else DEFAULT_FORMAT
    options.level_for(fmt)  # checks the level before any work
    return Prepared(spec, options, lock, fmt, options.effective_channels(spec.conda.channels))


def load(spec_or_path: Spec | Mapping[str, Any] | str | os.PathLike[str]) -> Spec:
    """The spec given as a Spec, a dict, a spec file or an importable file."""
    if isinstance(spec_or_path, Spec):
        return spec_or_path
    if isinstance(spec_or_path, Mapping):
        return Spec.from_dict(dict(spec_or_path), source="<spec>")
    from poncho_spec.importers import import_file, is_importable

    if is_importable(spec_or_path) and Path(spec_or_path).is_file():
        result = import_file(spec_or_path)
        for note in result.notes:  # "note:", as poncho_spec import says them
            log.log(NOTE, "%s", note)
        return result.spec
    return load_spec(os.fspath(spec_or_path))


def conda_dependencies(spec: Spec) -> list[str]:
    """The spec's conda dependencies, plus ``pip`` when pip entries need it."""
    dependencies = list(spec.conda.dependencies)
    names = {matchspec.package_name(d) for d in dependencies}
    if spec.pip and "pip" not in names:
        dependencies.append("pip")
    return dependencies


def check_offline(ready: Prepared) -> None:
    """``--offline``: CreateError naming the first channel or ``--find-links`` location a
    build would reach over the network (a channel's mirror counts, not its name)."""
    options = ready.options
    sources = options.channel_sources(ready.channels)
    for channel, source in zip(ready.channels, sources, strict=True):
        if not _local(source):
            where = channel if source == channel else f"{channel} ({source})"
            raise CreateError(
                f"--offline: channel {where} is not local; give a file:// channel or a "
                "folder (--channel URL --override-channels), or a local mirror in the "
                "config file"
            )
    if ready.spec.pip:
        for link in options.find_links:
            if not _local(link) and "://" in link:
                raise CreateError(f"--offline: --find-links {link} is not local")


def _local(location: str) -> bool:
    return location.startswith(("file:", "/", "./", "../", "~"))

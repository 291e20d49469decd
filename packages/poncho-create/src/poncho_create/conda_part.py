"""The conda part of a build: what decides the conda install (and its key), and the install.

Everything that decides what the conda engine puts into the prefix is gathered here: the
match specs (with ``pip`` when pip entries need it), the pins, the channels as the engine
really reads them (mirrors and aliases applied), the platform and whether it is this
machine's, the engine (py-rattler, or a ``--conda-exe`` and its path), a ``--from-lock``'s
conda entries and the ``CONDA_OVERRIDE_*`` virtual package versions. pip entries, local pip
sources, git and data entries are not: they change nothing the conda engine does. The key
names the reusable installed conda layer (`poncho_create.conda_layer`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from poncho_create.lock import Lock
from poncho_create.options import CreateOptions
from poncho_create.prepare import conda_dependencies
from poncho_create.progress import Reporter
from poncho_spec import Spec

__all__ = ["CondaPart"]

log = logging.getLogger(__name__)

# Bump when what an install of the same inputs writes changes (a new layer is made then).
_LAYOUT = 1


@dataclass(frozen=True)
class CondaPart:
    """What the conda engine is asked to install, and how."""

    dependencies: tuple[str, ...]
    sources: tuple[str, ...]
    pins: tuple[str, ...]
    platform: str
    native: bool
    conda_exe: Path | None
    lock: Lock | None
    channel_source: Callable[[str], str]

    @classmethod
    def of(
        cls, spec: Spec, options: CreateOptions, channels: tuple[str, ...], lock: Lock | None
    ) -> CondaPart:
        """The conda part of building `spec` with `options` from `channels` (and `lock`)."""
        return cls(
            dependencies=tuple(conda_dependencies(spec)),
            sources=options.channel_sources(channels),  # mirrors and aliases applied
            pins=tuple(spec.pinned_specs()),
            platform=options.platform,
            native=options.native,
            conda_exe=options.conda_exe,
            lock=lock,
            channel_source=options.channel_settings.source,
        )

    def key(self) -> str:
        """sha256 (hex) of everything that decides the install, and nothing else."""
        named = sorted({d.split("::", 1)[0] for d in self.dependencies if "::" in d})
        engine = "rattler" if self.conda_exe is None else os.path.abspath(self.conda_exe)  # noqa: PTH100
        overrides = {k: v for k, v in os.environ.items() if k.startswith("CONDA_OVERRIDE_")}
        inputs = {
            "layout": _LAYOUT,
            "dependencies": list(self.dependencies),
            "channels": list(self.sources),
            # A `channel::name` spec reads its channel where the settings say it lives.
            "named": {channel: self.channel_source(channel) for channel in named},
            "pins": list(self.pins),
            "platform": self.platform,
            "native": self.native,
            "engine": engine,
            "lock": [e.to_dict() for e in self.lock.conda] if self.lock is not None else None,
            "overrides": dict(sorted(overrides.items())),
        }
        blob = json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def install(self, prefix: Path, pkgs_dir: Path, work: Path, report: Reporter) -> None:
        """Solve (or take the lock's packages) and install into `prefix` (missing), with
        the pins written to ``conda-meta/pinned``."""
        if self.conda_exe is not None:
            if self.pins:
                log.warning(
                    "pinned: %s written to conda-meta/pinned; the external conda's own "
                    "solve does not see them",
                    ", ".join(self.pins),
                )
            from poncho_create.engine_external import build_prefix_external

            build_prefix_external(
                self.conda_exe,
                list(self.dependencies),
                self.sources,
                self.platform,
                prefix,
                work,
                report,
                native=self.native,
                lock=self.lock,
            )
        else:
            from poncho_create.engine_rattler import build_prefix

            build_prefix(
                list(self.dependencies),
                self.sources,
                self.platform,
                prefix,
                pkgs_dir,
                report,
                native=self.native,
                lock=self.lock,
                constraints=list(self.pins),
                channel_source=self.channel_source,
            )
        if self.pins:
            # conda reads it on every later install into the environment (CCTools wrote it).
            (prefix / "conda-meta" / "pinned").write_text("".join(p + "\n" for p in self.pins))

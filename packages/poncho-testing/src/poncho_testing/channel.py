"""A real local conda channel: ``python`` (the running interpreter), ``pip`` and demo packages,
and a stand-in ``python`` for ``linux-aarch64`` (cross-platform builds)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ._cache import cache_root, cached_dir
from ._interpreter import probe_interpreter

logger = logging.getLogger(__name__)

#: Bump when the channel's content changes: it is part of the cache key.
BUILDER_VERSION = "3"

_CHANNEL_JSON = "poncho-channel.json"

#: Platforms that get a stand-in ``python`` (cross-platform builds are tested with them).
FOREIGN_SUBDIRS = ("linux-aarch64",)


@dataclass(frozen=True)
class LocalChannel:
    """A conda channel in a local folder, indexed, usable through its ``file://`` URL."""

    path: Path
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)
    subdir: str = "linux-64"
    foreign_pythons: dict[str, str] = field(default_factory=dict)
    """Other platforms (subdirs) the channel has a stand-in ``python`` for, and its version
    (see :mod:`poncho_testing._foreign_python`): ``{"linux-aarch64": "3.11.9"}``."""

    @property
    def url(self) -> str:
        """The channel's ``file://`` URL, as py-rattler and poncho-create take it."""
        return self.path.as_uri()

    @classmethod
    def load(cls, path: Path) -> LocalChannel:
        """The channel built earlier into ``path``."""
        data = json.loads((path / _CHANNEL_JSON).read_text())
        return cls(
            path=path,
            python_version=data["python_version"],
            packages=dict(data["packages"]),
            subdir=data["subdir"],
            foreign_pythons=dict(data.get("foreign_pythons", {})),
        )


def current_subdir() -> str:
    """The conda platform of this machine (``linux-64`` here), as rattler names it."""
    from rattler import Subdir

    return str(Subdir.current())


def build_channel(dest: str | Path | None = None, *, python: str = sys.executable) -> LocalChannel:
    """Build (or reuse) the local channel for the interpreter ``python``.

    With ``dest=None`` the channel lives in the cache (``$PONCHO_TESTING_CACHE``, else
    ``~/.cache/poncho-testing``), keyed by the interpreter's real location and version:
    built once, then returned at once by every later call, in any process. With ``dest``
    a fresh channel is built into that folder.
    """
    interp = probe_interpreter(python)
    if dest is not None:
        path = Path(dest).resolve()
        path.mkdir(parents=True, exist_ok=True)
        _build_into(path, python)
        return LocalChannel.load(path)
    digest = hashlib.sha256(
        f"{interp.base_prefix}\0{interp.version}\0{BUILDER_VERSION}".encode()
    ).hexdigest()[:12]
    key = f"channel-py{interp.version}-{digest}"
    root = cache_root().resolve()
    return LocalChannel.load(cached_dir(root, key, lambda tmp: _build_into(tmp, python)))


def _build_into(path: Path, python: str) -> None:
    """Write the packages, index them and record what the channel holds."""
    from rattler.index import index_fs

    from ._aio import run_sync
    from ._foreign_python import build_foreign_python_package, foreign_python_version
    from ._noarch import demo_packages, pip_package
    from ._python_package import build_python_package

    interp = probe_interpreter(python)
    subdir = current_subdir()
    with tempfile.TemporaryDirectory(prefix="poncho-python-pkg-") as work:
        build_python_package(interp, subdir, path / subdir, Path(work))
    packages = {"python": interp.version}
    foreign = {}
    for other in FOREIGN_SUBDIRS:
        if other != subdir:
            foreign[other] = foreign_python_version(interp.version)
            build_foreign_python_package(other, foreign[other], path / other)
    packages["pip"] = pip_package(interp.stdlib, path / "noarch", python=python)
    packages.update(demo_packages(path / "noarch"))
    run_sync(index_fs(path, write_zst=False, write_shards=False, force=True))
    shutil.rmtree(path / ".tmp", ignore_errors=True)  # index_fs leaves it behind
    info = {
        "python_version": interp.version,
        "packages": packages,
        "subdir": subdir,
        "foreign_pythons": foreign,
    }
    (path / _CHANNEL_JSON).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    logger.info("built conda channel %s (python %s)", path, interp.version)

"""pytest plugin (entry point ``pytest11``): fixtures over the poncho-testing helpers.

Fixtures: ``local_channel``, ``wheelhouse`` and ``platform_wheelhouse`` (session),
``http_server`` and ``git_repo`` (function). Importing this module imports nothing heavy:
the helpers load when a fixture runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .channel import LocalChannel
    from .gitrepo import GitRepo
    from .httpserver import ServedDirectory
    from .wheels import Wheelhouse


@pytest.fixture(scope="session")
def local_channel() -> LocalChannel:
    """The local conda channel for the running interpreter (built once, cached across runs)."""
    from .channel import build_channel

    return build_channel()


@pytest.fixture(scope="session")
def wheelhouse() -> Wheelhouse:
    """A folder with the ``poncho-demo-pipbase`` and ``poncho-demo-piptop`` wheels."""
    from .wheels import build_wheelhouse

    return build_wheelhouse()


@pytest.fixture(scope="session")
def platform_wheelhouse(local_channel: LocalChannel) -> Wheelhouse:
    """Platform wheels (aarch64, x86-64) for the channel's stand-in ``linux-aarch64``
    python and for the running one, beside the pure wheels (see
    :func:`poncho_testing.build_platform_wheelhouse`)."""
    from .wheels import build_platform_wheelhouse

    versions = {
        ".".join(v.split(".")[:2])
        for v in (local_channel.python_version, *local_channel.foreign_pythons.values())
    }
    return build_platform_wheelhouse(sorted(versions))


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[ServedDirectory]:
    """A real HTTP server on 127.0.0.1 serving an empty folder (``.root``) at ``.url``."""
    from .httpserver import serve_directory

    root = tmp_path / "http-root"
    root.mkdir()
    with serve_directory(root) as served:
        yield served


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """A real git repository with two commits on ``main``, a tag ``v1`` and a branch ``dev``."""
    from .gitrepo import make_git_repo

    return make_git_repo(tmp_path / "git-origin")

"""Fixtures for poncho-run's tests: hand-made tarballs and one real packed environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from poncho_run_helpers import DEMO_SPECS, hand_env_members, make_tar


@pytest.fixture
def hand_tarball(tmp_path: Path) -> Path:
    """A hand-made environment tarball (no conda, no python of its own)."""
    return make_tar(tmp_path / "hand.tar.gz", hand_env_members())


@pytest.fixture(scope="session")
def demo_tarball(local_channel: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real conda-pack tarball of python + the demo app + the activate.d demo package."""
    from poncho_testing import build_env_tarball

    dest = tmp_path_factory.mktemp("demo") / "demo.tar.gz"
    return build_env_tarball(local_channel, DEMO_SPECS, dest)  # type: ignore[arg-type]

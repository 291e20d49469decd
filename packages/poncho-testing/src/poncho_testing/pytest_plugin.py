"""pytest plugin (entry point ``pytest11``): fixtures over the poncho-testing helpers.

Fixtures: ``local_channel`` and ``wheelhouse`` (session), ``http_server`` and ``git_repo``
(function). Importing this module imports nothing heavy: the helpers load when a fixture runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .channel import LocalChannel


@pytest.fixture(scope="session")
def local_channel() -> LocalChannel:
    """The local conda channel for the running interpreter (built once, cached across runs)."""
    from .channel import build_channel

    return build_channel()

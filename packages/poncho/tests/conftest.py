"""No test writes the user's own caches (~/.cache/poncho/envs is every create's
environment cache, ~/.cache/poncho/data the data cache)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _no_user_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        patch.delenv("PONCHO_ENVS_DIR", raising=False)
        yield

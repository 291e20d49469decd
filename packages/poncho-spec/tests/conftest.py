"""Shared fixtures for poncho-spec's tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from poncho_spec import matchspec

DATA = Path(__file__).parent / "data"

# spec_strategies.py is shared by several test files (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).parent))

# Fuzzing profiles: "short" runs in the normal suites (seconds, the same examples on every
# run); "long" is `nox -s fuzz` (PONCHO_FUZZ=long). No example database: nothing is
# written into the source tree.
_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("short", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=10_000, **_COMMON)
settings.load_profile(os.environ.get("PONCHO_FUZZ", "short"))


@pytest.fixture
def data_dir() -> Path:
    """tests/data: valid/*.json and invalid/*.json (+ .txt with the expected problems)."""
    return DATA


@pytest.fixture
def no_rattler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make `import rattler` fail, as on a worker that has only poncho-run."""
    monkeypatch.setitem(sys.modules, "rattler", None)
    matchspec._rattler.cache_clear()
    yield
    matchspec._rattler.cache_clear()

"""Shared fixtures for poncho-spec's tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from poncho_spec import matchspec

DATA = Path(__file__).parent / "data"

# spec_strategies.py is shared by several test files (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).parent))


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

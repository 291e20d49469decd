"""URLs parse the same on every Python (3.10's urlsplit accepts ``https://[]/``)."""

from __future__ import annotations

import pytest

from poncho_spec._urls import parse_problem


@pytest.mark.parametrize(
    "url", ["http://[", "https://[]/", "https://[abc]/x", "http://x.org:99999/", "http://x:ab/"]
)
def test_unparseable(url: str) -> None:
    assert parse_problem(url) is not None


@pytest.mark.parametrize(
    "url", ["https://x.org/a", "http://[::1]:8080/x", "http://u@[fe80::1%25eth0]/", "file:///x"]
)
def test_parseable(url: str) -> None:
    assert parse_problem(url) is None

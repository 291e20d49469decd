"""cached_dir builds once, atomically, and leaves nothing behind when a build fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from poncho_testing._cache import COMPLETE_MARKER, cache_root, cached_dir


def test_cache_root_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PONCHO_TESTING_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("PONCHO_TESTING_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "poncho-testing"


def test_builds_once(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "x").write_text("built")

    first = cached_dir(tmp_path, "k", build)
    second = cached_dir(tmp_path, "k", build)
    assert first == second == tmp_path / "k"
    assert len(calls) == 1 and calls[0] != first and not calls[0].exists()
    assert (first / "x").read_text() == "built" and (first / COMPLETE_MARKER).exists()
    assert first.stat().st_mode & 0o777 == 0o755


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(tmp: Path) -> None:
        (tmp / "half").write_text("")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cached_dir(tmp_path, "k", build)
    assert [p.name for p in tmp_path.iterdir()] == [".k.lock"]


def test_incomplete_entry_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "stale").write_text("")
    path = cached_dir(tmp_path, "k", lambda tmp: (tmp / "fresh").write_text(""))
    assert sorted(p.name for p in path.iterdir()) == sorted([COMPLETE_MARKER, "fresh"])

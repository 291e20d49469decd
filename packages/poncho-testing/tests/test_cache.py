"""cached_dir builds once, atomically, and leaves nothing behind when a build fails."""

from __future__ import annotations

import subprocess
import sys
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


RACER = """
import os, sys, time
from pathlib import Path
from poncho_testing._cache import cached_dir

def build(tmp):
    with open(sys.argv[2], "a") as log:
        log.write(f"{os.getpid()}\\n")
    time.sleep(0.5)  # widen the window in which the other process arrives
    (tmp / "owner").write_text(str(os.getpid()))

path = cached_dir(Path(sys.argv[1]), "k", build)
print(path, (path / "owner").read_text())
"""


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path / "cache"), str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = {p.communicate()[0] for p in procs}
    assert [p.returncode for p in procs] == [0, 0, 0]
    (output,) = outputs  # all saw the same folder built by the same process
    (builder,) = log.read_text().split()
    assert output.split() == [str(tmp_path / "cache" / "k"), builder]

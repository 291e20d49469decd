"""hide_paths_argv really hides folders from the command it runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from poncho_testing import can_hide_paths, hide_paths_argv


@pytest.fixture
def hideable() -> None:
    if not can_hide_paths():
        pytest.skip("unshare -m cannot mount here")


@pytest.mark.usefixtures("hideable")
def test_hidden_folders_look_empty(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "secret").write_text("s")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "visible").write_text("v")
    argv = hide_paths_argv([tmp_path / "a"], ["ls", "-A", str(tmp_path / "a"), str(tmp_path / "b")])
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert "secret" not in out.stdout and "visible" in out.stdout
    assert (tmp_path / "a" / "secret").exists()  # only hidden inside the namespace


@pytest.mark.usefixtures("hideable")
def test_missing_mount_point_fails(tmp_path: Path) -> None:
    argv = hide_paths_argv([tmp_path / "missing"], ["true"])
    assert subprocess.run(argv, capture_output=True, check=False).returncode == 97

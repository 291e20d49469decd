"""The digest of the local files a build reads: it changes exactly when they do."""

from __future__ import annotations

import os
from pathlib import Path

from poncho_create.local_inputs import local_inputs_digest


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'pkg'\n")
    return root


def test_no_local_inputs_no_digest(tmp_path: Path) -> None:
    assert local_inputs_digest([]) is None
    assert local_inputs_digest([], ["https://example.invalid/wheels", str(tmp_path / "no")]) is None


def test_an_edit_changes_it_and_build_debris_does_not(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    first = local_inputs_digest([project])
    assert first is not None and len(first) == 64
    for debris in (".git/index", "pkg/__pycache__/x.pyc", "build/lib/x.py", "x.egg-info/PKG"):
        (project / debris).parent.mkdir(parents=True, exist_ok=True)
        (project / debris).write_text("noise")
    (project / "pkg" / "stale.pyc").write_bytes(b"noise")
    assert local_inputs_digest([project]) == first
    (project / "pkg" / "__init__.py").write_text("VALUE = 2\n")
    edited = local_inputs_digest([project])
    assert edited != first
    (project / "pkg" / "new.py").write_text("")
    assert local_inputs_digest([project]) not in (first, edited)


def test_mode_names_and_single_files_count(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    before = local_inputs_digest([project])
    (project / "pkg" / "__init__.py").chmod(0o755)
    assert local_inputs_digest([project]) != before
    (project / "pkg" / "__init__.py").rename(project / "pkg" / "other.py")
    wheel = tmp_path / "thing-1.0-py3-none-any.whl"
    wheel.write_bytes(b"one")
    one = local_inputs_digest([wheel])
    wheel.write_bytes(b"two")
    assert local_inputs_digest([wheel]) != one


def test_find_links_folders_count_by_name_size_and_mtime(tmp_path: Path) -> None:
    links = tmp_path / "wheels"
    links.mkdir()
    (links / "a-1-py3-none-any.whl").write_bytes(b"a")
    first = local_inputs_digest([], [str(links)])
    assert first is not None
    assert local_inputs_digest([], [links.as_uri()]) == first
    (links / "b-1-py3-none-any.whl").write_bytes(b"b")
    second = local_inputs_digest([], [str(links)])
    assert second != first
    os.utime(links / "b-1-py3-none-any.whl", ns=(1, 1))
    assert local_inputs_digest([], [str(links)]) != second

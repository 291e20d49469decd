"""The digest of the local files a build reads: it changes exactly when they do."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def test_our_own_outputs_in_the_folder_do_not_count(tmp_path: Path) -> None:
    """Seams 12: the previous OUTPUT, a tarball being written and an env cache inside the
    project folder never change its digest."""
    project = _project(tmp_path / "proj")
    first = local_inputs_digest([project])
    outputs = ("env.tar.gz", "env.tgz", "e.tar.zst", "e.tar.bz2", "e.tar",
               ".env.tar.gz.k2j_x9ab.tmp", "envs/abc-linux-64.tar.gz",
               "envs/.locks/abc-linux-64.tar.gz.lock", ".poncho_cache/a.tar.gz")  # fmt: skip
    for name in outputs:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(os.urandom(64))
    assert local_inputs_digest([project]) == first
    (project / "pkg" / "data.tmp").write_text("a source file")  # not one of ours
    assert local_inputs_digest([project]) != first


def test_pip_configuration_digest(tmp_path: Path, monkeypatch: Any) -> None:
    from poncho_create.local_inputs import pip_config_digest

    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    first = pip_config_digest()
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    second = pip_config_digest()
    assert second != first
    (tmp_path / "config" / "pip").mkdir(parents=True)
    (tmp_path / "config" / "pip" / "pip.conf").write_text("[global]\nindex-url = x\n")
    assert pip_config_digest() not in (first, second)

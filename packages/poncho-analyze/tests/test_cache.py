from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from poncho_analyze import _cache
from poncho_analyze.mapping import Environment, Mapper


def _owner(mapper: Mapper, module: str) -> str | None:
    found = mapper.resolve((module,)).owner
    return None if found is None else f"{found.name}=={found.version}"


def test_a_second_analysis_reads_no_file_lists(
    tmp_path: Path,
    dist_writer: Callable[..., Path],
    conda_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> None:
    prefix = tmp_path / "env"
    site = prefix / "lib/python3.11/site-packages"
    meta = dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    conda_writer(prefix, "numpy", "1.26.4", "py0", "conda-forge",
                 ["lib/python3.11/site-packages/numpy/__init__.py"])  # fmt: skip
    env = make_env(prefix, site)
    first = Mapper(env)
    assert _owner(first, "yaml") == "PyYAML==6.0.1"
    assert len(list(_cache.cache_dir().glob("env-*.marshal"))) == 1  # type: ignore[union-attr]
    # Emptied file lists (same folder times): the cached map still answers.
    (meta / "RECORD").write_text("")
    record = next((prefix / "conda-meta").glob("*.json"))
    record.write_text('{"name": "numpy", "version": "1.26.4", "files": []}')
    second = Mapper(env)
    assert _owner(second, "yaml") == "PyYAML==6.0.1"
    assert _owner(second, "numpy") == "numpy==1.26.4"
    assert second.conda_package("numpy") is not None
    # Without the cache the emptied lists are what is read.
    assert _owner(Mapper(env, cache=False), "numpy") is None


def test_installing_a_package_makes_the_map_stale(
    tmp_path: Path, dist_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> None:
    site = tmp_path / "site"
    dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    env = make_env(tmp_path / "venv", site)
    assert _owner(Mapper(env), "sklearn") is None
    before = site.stat().st_mtime_ns
    dist_writer(site, "scikit-learn", "1.4.0", {"sklearn/__init__.py": ""})
    if site.stat().st_mtime_ns == before:  # a coarse clock: make the change visible
        os.utime(site, ns=(before + 10**9, before + 10**9))
    assert _owner(Mapper(env), "sklearn") == "scikit-learn==1.4.0"


def test_conda_meta_changes_make_the_map_stale(
    tmp_path: Path, conda_writer: Callable[..., Path], make_env: Callable[..., Environment]
) -> None:
    prefix = tmp_path / "env"
    site = prefix / "lib/python3.11/site-packages"
    conda_writer(
        prefix, "numpy", "1.26.4", "py0", "c", ["lib/python3.11/site-packages/numpy/__init__.py"]
    )
    env = make_env(prefix, site)
    assert Mapper(env).conda_package("bio") is None
    time.sleep(0.01)
    conda_writer(prefix, "bio", "2.0", "h0", "c", ["lib/python3.11/site-packages/bio/__init__.py"])
    assert Mapper(env).conda_package("bio") is not None


@pytest.mark.parametrize("value", ["off", ""])
def test_the_cache_can_be_turned_off(
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> None:
    monkeypatch.setenv("PONCHO_ANALYZE_CACHE", value)
    assert _cache.cache_dir() is None
    site = tmp_path / "site"
    dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    Mapper(make_env(tmp_path / "venv", site))
    monkeypatch.delenv("PONCHO_ANALYZE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.cache_dir() == tmp_path / "xdg" / "poncho" / "analyze"


def test_a_broken_or_unwritable_cache_is_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dist_writer: Callable[..., Path],
    make_env: Callable[..., Environment],
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PONCHO_ANALYZE_CACHE", str(folder))
    site = tmp_path / "site"
    dist_writer(site, "PyYAML", "6.0.1", {"yaml/__init__.py": ""})
    env = make_env(tmp_path / "venv", site)
    Mapper(env)
    (stored,) = folder.glob("env-*.marshal")
    stored.write_bytes(b"\x00garbage")
    assert _owner(Mapper(env), "yaml") == "PyYAML==6.0.1"
    monkeypatch.setenv("PONCHO_ANALYZE_CACHE", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("")
    assert _owner(Mapper(env), "yaml") == "PyYAML==6.0.1"


def test_what_an_interpreter_says_is_kept_until_its_environment_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "venv" / "site"
    site.mkdir(parents=True)
    calls = tmp_path / "calls"
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir()
    answer = json.dumps(
        {"prefix": str(tmp_path / "venv"), "base_prefix": "/usr", "path": [str(site)],
         "version": "3.12.1", "stdlib": ["os", "sys"]}
    )  # fmt: skip
    python.write_text(f"#!/bin/sh\necho x >> '{calls}'\necho '{answer}'\n")
    python.chmod(0o755)
    first = Environment.from_python(python)
    assert Environment.from_python(python) == first
    assert calls.read_text().count("x") == 1
    assert first.paths == (site,) and first.python_version == "3.12.1"
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")  # recreated venv
    Environment.from_python(python)
    assert calls.read_text().count("x") == 2
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    Environment.from_python(python)
    assert calls.read_text().count("x") == 3
    (site / "extra.pth").write_text(str(tmp_path) + "\n")
    before = site.stat().st_mtime_ns
    os.utime(site, ns=(before + 10**9, before + 10**9))
    Environment.from_python(python)
    assert calls.read_text().count("x") == 4

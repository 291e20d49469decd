"""ndcctools.poncho names resolve to our modules, with and without CCTools installed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECK = """
import poncho.ndcctools_alias, poncho.package_create, poncho.package_analyze
poncho.ndcctools_alias.install()
from ndcctools.poncho import package_create, package_analyze
import ndcctools.poncho.package_create as direct
assert package_create is poncho.package_create is direct, package_create
assert package_analyze is poncho.package_analyze
import ndcctools.poncho
print(getattr(ndcctools.poncho, "CCTOOLS", "none"))
"""


def _run(*path: Path) -> str:
    env_path = ":".join(str(p) for p in path)
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_cctools_the_namespace_is_made_in_memory(tmp_path: Path) -> None:
    assert _run() == "none"


def test_with_cctools_installed_only_the_two_modules_are_replaced(tmp_path: Path) -> None:
    package = tmp_path / "ndcctools" / "poncho"
    package.mkdir(parents=True)
    (tmp_path / "ndcctools" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("CCTOOLS = 'theirs'\n")
    (package / "package_create.py").write_text("raise RuntimeError('CCTools module imported')\n")
    assert _run(tmp_path) == "theirs"


@pytest.fixture
def clean_ndcctools() -> Iterator[None]:
    """Whatever install() registers under ndcctools is removed again after the test."""
    before = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "ndcctools"}
    yield
    for name in [k for k in sys.modules if k.split(".")[0] == "ndcctools"]:
        del sys.modules[name]
    sys.modules.update(before)


def test_in_process_without_cctools(clean_ndcctools: None) -> None:
    import importlib

    from poncho import ndcctools_alias, package_analyze, package_create

    ndcctools_alias.install()
    module = importlib.import_module("ndcctools.poncho")
    assert module.package_create is package_create
    assert module.package_analyze is package_analyze
    assert importlib.import_module("ndcctools.poncho.package_create") is package_create


def test_in_process_with_cctools(
    clean_ndcctools: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from poncho import ndcctools_alias, package_create

    package = tmp_path / "ndcctools" / "poncho"
    package.mkdir(parents=True)
    (tmp_path / "ndcctools" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("CCTOOLS = 'theirs'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ndcctools_alias.install()
    module = importlib.import_module("ndcctools.poncho")
    assert module.CCTOOLS == "theirs" and module.package_create is package_create

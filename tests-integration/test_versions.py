"""tools/versions.py: one version for every distribution, held to the root file VERSION."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "versions.py"


def _tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True,
                          text=True, check=False)  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The files the tool reads, copied from this checkout."""
    shutil.copy(ROOT / "VERSION", tmp_path / "VERSION")
    for pyproject in (ROOT / "packages").glob("*/pyproject.toml"):
        rel = pyproject.relative_to(ROOT)
        (tmp_path / rel).parent.mkdir(parents=True)
        shutil.copy(pyproject, tmp_path / rel)
        for name in ("__init__.py", "_version.py"):
            for source in (pyproject.parent / "src").glob(f"*/{name}"):
                target = tmp_path / source.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
    return tmp_path


def test_this_checkout_says_one_version() -> None:
    proc = _tool("check")
    assert proc.returncode == 0, proc.stderr


def test_a_pin_or_a_version_that_differs_is_named(tree: Path) -> None:
    version = (tree / "VERSION").read_text().strip()
    fetch = tree / "packages" / "poncho-fetch" / "pyproject.toml"
    fetch.write_text(fetch.read_text().replace(f'"poncho-spec~={version}"', '"poncho-spec~=9.9"'))
    tools = tree / "packages" / "poncho" / "pyproject.toml"
    tools.write_text(tools.read_text().replace(f'version = "{version}"', 'version = "9.9"'))
    proc = _tool("check", tree)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"versions.py: error: packages/poncho/pyproject.toml: version 9.9, VERSION says {version}",
        "versions.py: error: packages/poncho-fetch/pyproject.toml: pins poncho-spec~=9.9, "
        f"VERSION says {version}",
    ]


def test_set_writes_the_version_everywhere(tree: Path) -> None:
    assert _tool("set", "2.3.4", tree).returncode == 0
    assert _tool("check", tree).returncode == 0
    assert (tree / "VERSION").read_text() == "2.3.4\n"
    tools = (tree / "packages" / "poncho" / "pyproject.toml").read_text()
    assert '"poncho-run==2.3.4"' in tools and 'version = "2.3.4"' in tools
    run = (tree / "packages" / "poncho-run" / "pyproject.toml").read_text()
    assert '"poncho-core[zstd]~=2.3.4"' in run  # extras kept
    init = (tree / "packages" / "poncho-run" / "src" / "poncho_run" / "__init__.py").read_text()
    assert '__version__ = "2.3.4"' in init

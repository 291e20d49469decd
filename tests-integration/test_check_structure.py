"""tools/check_structure.py: the check `make test` runs finds what it must, and only that."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "check_structure.py"


def _package(root: Path, files: dict[str, str]) -> Path:
    src = root / "packages" / "demo" / "src" / "demo"
    src.mkdir(parents=True)
    for name, text in files.items():
        (src / name).write_text(text)
    return root / "packages"


def _check(packages: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), str(packages)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a late import inside a function closes a circle as much as a top-level one
        (
            {
                "__init__.py": "",
                "low.py": "def f():\n    from demo import high\n",
                "high.py": "from demo import low\n",
            },
            "import cycle: demo.high (line 1) -> demo.low (line 2) -> demo.high",
        ),
        # relative imports resolve to the same modules
        (
            {"__init__.py": "", "a.py": "from . import b\n", "b.py": "from .a import X\n"},
            "import cycle: demo.a (line 1) -> demo.b (line 1) -> demo.a",
        ),
        # a module taking a name from its package's __init__, which imports it
        (
            {
                "__init__.py": "from demo.a import f\nVERSION = 1\n",
                "a.py": "from demo import VERSION\n",
            },
            "import cycle: demo (line 1) -> demo.a (line 1) -> demo",
        ),
        ({"__init__.py": "", "big.py": "x = 1\n" * 401}, "big.py: 401 lines (at most 400)"),
    ],
    ids=["late-import", "relative", "init", "too-long"],
)
def test_finds_the_problem(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    result = _check(_package(tmp_path, files))
    assert result.returncode == 1
    assert expected in result.stderr


def test_accepts_what_is_no_cycle(tmp_path: Path) -> None:
    files = {
        # importing a sibling module through the package is no edge to the package's __init__
        "__init__.py": "from demo.a import f\n",
        "a.py": (
            "from typing import TYPE_CHECKING\nfrom demo import b\n"
            "if TYPE_CHECKING:\n    from demo import c\n"
        ),
        "b.py": "x = 1\n" * 400,
        # only under TYPE_CHECKING: never runs, so no circle
        "c.py": "from demo import a\n",
    }
    result = _check(_package(tmp_path, files))
    assert result.returncode == 0, result.stderr
    assert "no import cycle" in result.stdout

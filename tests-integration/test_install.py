"""The install commands of the README and the guide, run as written from a checkout, in fresh
venvs made with the standard library's venv and pip (third-party dependencies from the index).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Venv, sh

# The commands exactly as README.md and docs/guide.md give them (checked below).
EVERYTHING = (
    "python -m pip install ./packages/poncho-core ./packages/poncho-spec ./packages/poncho-fetch "
    "./packages/poncho-run ./packages/poncho-create ./packages/poncho-analyze ./packages/poncho"
)
WORKER = (
    "python -m pip install ./packages/poncho-core ./packages/poncho-spec ./packages/poncho-fetch "
    "./packages/poncho-run"
)


def _install(tmp_path: Path, command: str) -> Venv:
    venv = Venv(tmp_path / "venv")
    sh([sys.executable, "-m", "venv", venv.path])
    argv = shlex.split(command)
    assert argv[:1] == ["python"]
    sh([venv.python, *argv[1:], "--quiet", "--disable-pip-version-check"], cwd=ROOT)
    return venv


@pytest.mark.parametrize("page", ["README.md", "docs/guide.md"])
def test_the_pages_give_these_commands(page: str) -> None:
    text = " ".join((ROOT / page).read_text(encoding="utf-8").replace("\\\n", " ").split())
    assert EVERYTHING in text
    assert WORKER in text


def test_the_whole_tool_set_from_a_checkout_in_one_command(tmp_path: Path) -> None:
    venv = _install(tmp_path, EVERYTHING)
    for command in ("poncho", "poncho_package_analyze", "poncho_package_create",
                    "poncho_package_run", "poncho_fetch", "poncho_spec",
                    "python_package_create"):  # fmt: skip
        assert venv.script(command).exists()
    assert sh([venv.script("poncho"), "--version"]).stdout.strip() == "poncho 0.1.0"
    shown = sh([venv.python, "-m", "pip", "show", "poncho-tools"]).stdout
    assert "Name: poncho-tools" in shown
    code = "from poncho import package_create, package_analyze; print(package_create.__name__)"
    assert sh([venv.python, "-c", code]).stdout.strip() == "poncho.package_create"


def test_a_worker_gets_poncho_run_alone(tmp_path: Path) -> None:
    venv = _install(tmp_path, WORKER)
    assert sh([venv.script("poncho_package_run"), "--version"]).returncode == 0
    for heavy in ("rattler", "conda_pack", "libcst", "poncho_create", "poncho"):
        assert not venv.has_module(heavy), f"{heavy} reached the worker"
    proc = subprocess.run([venv.python, "-m", "pip", "show", "poncho-tools"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode != 0

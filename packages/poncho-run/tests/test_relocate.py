from __future__ import annotations

import sys
from pathlib import Path

import pytest

from poncho_run.errors import RunError
from poncho_run.relocate import relocate

# What conda-unpack does, in miniature: replace a placeholder by the folder it lives in.
FAKE_UNPACK = """\
import os, sys
prefix = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = os.path.join(prefix, "etc", "config.txt")
text = open(path).read()
open(path, "w").write(text.replace("/placeholder", prefix))
open(os.path.join(prefix, "seen"), "w").write(repr(os.environ.get("PYTHONPATH")))
"""


def fake_env(root: Path, script: str = FAKE_UNPACK, python: bool = False) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "config.txt").write_text("prefix=/placeholder\n")
    (root / "bin" / "conda-unpack").write_text(script)
    if python:
        wrapper = root / "bin" / "python"
        wrapper.write_text(
            f'#!/bin/sh\necho env-python >> "{root}/used"\nexec {sys.executable} "$@"\n'
        )
        wrapper.chmod(0o755)
    return root


def test_conda_unpack_makes_the_prefix_valid_where_it_is(tmp_path: Path) -> None:
    root = fake_env(tmp_path / "env")
    assert relocate(str(root)) is True
    assert (root / "etc" / "config.txt").read_text() == f"prefix={root}\n"
    assert relocate(str(root)) is True, "running it again is harmless"
    assert (root / "etc" / "config.txt").read_text() == f"prefix={root}\n"


def test_the_environment_s_own_python_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    root = fake_env(tmp_path / "env", python=True)
    relocate(str(root))
    assert (root / "used").read_text() == "env-python\n"
    assert (root / "seen").read_text() == "None"


def test_a_prefix_without_conda_unpack_needs_nothing(tmp_path: Path) -> None:
    assert relocate(str(tmp_path)) is False


def test_a_failing_conda_unpack_is_reported_with_its_message(tmp_path: Path) -> None:
    root = fake_env(tmp_path / "env", script="import sys\nsys.exit('placeholder too long')\n")
    with pytest.raises(RunError, match=r"conda-unpack failed .*placeholder too long"):
        relocate(str(root))


def test_a_python_that_cannot_start_is_reported(tmp_path: Path) -> None:
    root = fake_env(tmp_path / "env")
    python = root / "bin" / "python"
    python.write_text("not a program")
    python.chmod(0o755)
    with pytest.raises(RunError, match="cannot run conda-unpack"):
        relocate(str(root))


@pytest.mark.slow
def test_a_real_conda_pack_environment_is_relocated(demo_tarball: Path, tmp_path: Path) -> None:
    from poncho_core.extract import extract

    root = tmp_path / "env"
    root.mkdir()
    extract(demo_tarball, root)
    (sysconfig,) = root.glob("lib/python3.*/_sysconfigdata_*.py")
    assert str(root) not in sysconfig.read_text()
    assert relocate(str(root)) is True
    assert str(root) in sysconfig.read_text()

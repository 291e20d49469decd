"""Which environment is inspected: a real virtual environment, activated or not."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from poncho_analyze.cli import main
from poncho_analyze.environments import choose_environment

LIBCST = f"libcst=={version('libcst')}"


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's own (empty) virtual environment, beside the one running the tests."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def _job(tmp_path: Path) -> Path:
    job = tmp_path / "job.py"
    job.write_text("import json\nimport libcst\nimport yaml\n")
    return job


def test_the_activated_environment_is_inspected_and_said(
    user_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(user_venv))
    assert main([str(_job(tmp_path)), str(tmp_path / "spec.json")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"poncho_package_analyze: inspecting {user_venv}/bin/python "
        f"(Python {'.'.join(map(str, sys.version_info[:3]))}, prefix {user_venv}; "
        f"the activated environment $VIRTUAL_ENV, not poncho's own at {sys.prefix})"
    )
    # poncho's own libcst (and its PyYAML) are not the user's: they do not leak in
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert spec["conda"]["dependencies"] == [f"python={'.'.join(map(str, sys.version_info[:3]))}"]
    text = "\n".join(err)
    assert "  libcst (imported at" in text and "  yaml (imported at" in text


def test_quiet_drops_the_line(
    user_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(user_venv))
    job = tmp_path / "job.py"
    job.write_text("import json\n")
    assert main([str(job), "-", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_poncho_s_own_environment_when_it_is_the_activated_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    assert main([str(_job(tmp_path)), "-"]) == 0
    out, err = capsys.readouterr()
    assert LIBCST in out
    assert err.startswith(f"poncho_package_analyze: inspecting {sys.executable} ")
    assert err.splitlines()[0].endswith("; the Python running poncho)")


def test_order_of_the_activation_variables(user_venv: Path, tmp_path: Path) -> None:
    conda = choose_environment(environ={"CONDA_PREFIX": str(user_venv)})
    assert conda.environment.prefix == user_venv
    assert "$CONDA_PREFIX" in conda.why
    both = choose_environment(
        environ={"CONDA_PREFIX": str(tmp_path), "VIRTUAL_ENV": str(user_venv)}
    )
    assert "$VIRTUAL_ENV" in both.why
    no_python = choose_environment(environ={"CONDA_PREFIX": str(tmp_path)})
    assert no_python.environment.prefix == Path(sys.prefix)
    given = choose_environment(sys.executable, environ={"VIRTUAL_ENV": str(user_venv)})
    assert given.why == "--interpreter" and given.environment.prefix == Path(sys.prefix)

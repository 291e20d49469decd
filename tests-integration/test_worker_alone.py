"""A worker has only `pip install poncho-run`: it runs tarballs made by poncho-create and by
plain conda-pack, without anything of create's or analyze's dependencies."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import Venv, sh

HEAVY = [
    "rattler",
    "conda_pack",
    "libcst",
    "poncho_create",
    "poncho_analyze",
    "zstandard",
    "portalocker",
]


@pytest.mark.parametrize("module", HEAVY)
def test_worker_venv_has_nothing_of_create_or_analyze(run_venv: Venv, module: str) -> None:
    assert not run_venv.has_module(module)


def test_worker_venv_has_run_spec_and_fetch(run_venv: Venv) -> None:
    for module in ["poncho_run", "poncho_core", "poncho_spec", "poncho_fetch"]:
        assert run_venv.has_module(module), module


def test_worker_runs_a_tarball_made_by_poncho_create(
    run_venv: Venv, demo_tarball: Path, tmp_path: Path
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", demo_tarball, "--", "poncho-demo-app"],
        cwd=work,
        env=run_venv.env(),
    )
    assert "poncho-demo-app" in proc.stdout
    code = "import sys, poncho_demo_app, poncho_demo_core; print(sys.prefix)"
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", demo_tarball, "--", "python", "-c", code],
        cwd=work,
        env=run_venv.env(),
    )
    prefix = Path(proc.stdout.strip())
    assert prefix != run_venv.path and not prefix.exists(), "temporary unpack folder is removed"


def test_worker_keeps_an_unpacked_env_with_d(
    run_venv: Venv, demo_tarball: Path, tmp_path: Path
) -> None:
    target = tmp_path / "env"
    argv = [
        run_venv.script("poncho_package_run"),
        "-e",
        demo_tarball,
        "-d",
        target,
        "--",
        "python",
        "-c",
        "import sys; print(sys.prefix)",
    ]
    first = sh(argv, env=run_venv.env())
    second = sh(argv, env=run_venv.env())
    assert Path(first.stdout.strip()) == target.resolve() == Path(second.stdout.strip())
    assert (target / "bin" / "run_in_env").exists()


def test_run_in_env_inside_a_tarball_made_by_create(demo_tarball: Path, tmp_path: Path) -> None:
    """The CCTools convention: TaskVine/Work Queue unpack the tarball and call bin/run_in_env."""
    target = tmp_path / "unpacked"
    target.mkdir()
    sh(["tar", "-xzf", demo_tarball, "-C", target])
    proc = sh([target / "bin" / "run_in_env", "poncho-demo-app"], env={"PATH": "/usr/bin:/bin"})
    assert "poncho-demo-app" in proc.stdout


def test_worker_runs_a_plain_conda_pack_tarball(
    run_venv: Venv, local_channel: object, tmp_path: Path
) -> None:
    """A tarball made by conda-pack itself (prefix installed by py-rattler, no poncho/ inside)."""
    from poncho_testing import build_env_tarball

    tarball = build_env_tarball(
        local_channel, ["python", "poncho-demo-app"], tmp_path / "cp.tar.gz"
    )  # type: ignore[arg-type]
    names = subprocess.run(["tar", "-tzf", tarball], capture_output=True, text=True, check=True)
    assert "poncho/spec.json" not in names.stdout
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", tarball, "--", "poncho-demo-app"],
        env=run_venv.env(),
    )
    assert "poncho-demo-app" in proc.stdout

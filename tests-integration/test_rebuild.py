"""Seam 16 of issue 26: after a prune, the same spec builds the same bytes again, and every
folder a task unpacked with `-u DIR` keeps working with the rebuilt tarball."""

from __future__ import annotations

from pathlib import Path

from conftest import Venv, sh


def test_a_pruned_and_rebuilt_tarball_is_the_same_for_unpacked_folders(
    full_venv: Venv, demo_spec: Path, tmp_path: Path
) -> None:
    env = full_venv.env(PONCHO_ENVS_DIR=str(tmp_path / "envs"), TMPDIR=str(tmp_path))
    create = [full_venv.script("poncho_package_create"), "--quiet", demo_spec]
    tarball = Path(sh(create, env=env).stdout.strip())
    first = tarball.read_bytes()
    run = [full_venv.script("poncho_package_run"), "-e", tarball, "-u", tmp_path / "u"]
    sh([*run, "--", "true"], env=env)
    sh([full_venv.script("poncho"), "cache", "prune", "-q", "--max-size", "0", "envs"], env=env)
    assert not tarball.exists()
    assert Path(sh(create, env=env).stdout.strip()) == tarball
    assert tarball.read_bytes() == first
    proc = sh([*run, "--", "python", "-c", "import sys; print(sys.prefix)"], env=env)
    assert proc.stdout.strip() == str(tmp_path / "u")

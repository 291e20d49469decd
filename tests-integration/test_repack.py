"""A folder `poncho_package_run -u DIR` prepared, packed again by poncho_package_create, is a
tarball like any other: it relocates wherever it is unpacked (issue 26, seam 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Venv, sh

_PREFIX = "import sysconfig; print(sysconfig.get_config_var('prefix'))"


@pytest.mark.parametrize("how", ["tar and run_in_env", "poncho_package_run -u"])
def test_a_run_folder_packed_again_relocates(
    full_venv: Venv, demo_tarball: Path, tmp_path: Path, how: str
) -> None:
    run = full_venv.script("poncho_package_run")
    first = tmp_path / "u2"
    sh([run, "-e", demo_tarball, "-u", first, "--", "true"], env=full_venv.env())
    assert (first / ".poncho-run" / "state.json").is_file()
    repacked = tmp_path / "fromdir.tar.gz"
    sh([full_venv.script("poncho_package_create"), "-q", first, repacked], env=full_venv.env())

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    sh(["tar", "-xzf", repacked, "-C", folder])
    if how == "tar and run_in_env":
        argv = [folder / "bin" / "run_in_env", "python", "-c", _PREFIX]
    else:
        argv = [run, "-u", folder, "--", "python", "-c", _PREFIX]
    assert sh(argv, env=full_venv.env()).stdout.strip() == str(folder)

"""poncho_package_create writes indexed tarballs (issue 23): the .tar.gz and .tar.zst it
makes have an index (poncho-core reads it) and are read unchanged by GNU tar (then
bin/run_in_env, as TaskVine unpacks), by poncho_package_run -e (the installed engine and the
copied script) and by CCTools' own bash runner (Debian's coop-computing-tools)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Venv, sh
from poncho_core.tarindex import read_index

CODE = "import sys, poncho_demo_app; print(sys.prefix)"
BARE = {"PATH": "/usr/bin:/bin"}


@pytest.fixture(scope="module")
def zst_tarball(tmp_path_factory: pytest.TempPathFactory, full_venv: Venv, demo_spec: Path) -> Path:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program for `tar --zstd`")
    out = tmp_path_factory.mktemp("zst") / "demo.tar.zst"
    sh([full_venv.script("poncho_package_create"), "--quiet", demo_spec, out], env=full_venv.env())
    return out


def test_create_writes_indexed_tarballs(demo_tarball: Path, zst_tarball: Path) -> None:
    for tarball, compression in ((demo_tarball, "gzip"), (zst_tarball, "zstd")):
        index = read_index(tarball)
        assert index is not None and index.compression == compression
        assert any(m.name.startswith("conda/python-") for m in index.members)


@pytest.mark.parametrize("which", ["gz", "zst"])
def test_plain_tar_then_run_in_env(
    which: str, demo_tarball: Path, zst_tarball: Path, tmp_path: Path
) -> None:
    tarball = demo_tarball if which == "gz" else zst_tarball
    out = tmp_path / "output"  # TaskVine's declare_poncho: mkdir, tar xf, run_in_env
    out.mkdir()
    flag = "-z" if which == "gz" else "--zstd"
    sh(["tar", flag, "-xf", tarball, "-C", out], env=BARE)
    sh([out / "bin" / "run_in_env"], env=BARE)
    proc = sh([out / "bin" / "run_in_env", "python", "-c", CODE], env=BARE)
    assert proc.stdout.strip() == str(out)


@pytest.mark.parametrize("which", ["gz", "zst"])
def test_poncho_package_run_engine_and_copied_script(
    which: str, run_venv: Venv, demo_tarball: Path, zst_tarball: Path, tmp_path: Path
) -> None:
    tarball = demo_tarball if which == "gz" else zst_tarball
    proc = sh(
        [run_venv.script("poncho_package_run"), "-e", tarball, "-u", tmp_path / "a", "--",
         "python", "-c", CODE],
        env=run_venv.env(),
    )  # fmt: skip
    assert proc.stdout.strip() == str(tmp_path / "a")
    copied = tmp_path / "poncho_package_run"
    shutil.copy2(run_venv.script("poncho_package_run"), copied)
    proc = sh([copied, "-e", tarball, "-u", tmp_path / "b", "--", "python", "-c", CODE], env=BARE)
    assert proc.stdout.strip() == str(tmp_path / "b")


def test_cctools_bash_runner(demo_tarball: Path, tmp_path: Path) -> None:
    runner = Path("/usr/bin/python_package_run")
    if not runner.is_file() or "conda-unpack" not in runner.read_text(errors="replace"):
        pytest.skip("needs Debian's coop-computing-tools (CCTools' bash python_package_run)")
    target = tmp_path / "cctools"
    # Its conda-unpack runs as `#!/usr/bin/env python`: the environment's, once unpacked.
    env = {"PATH": f"{target}/bin:/usr/bin:/bin"}
    proc = sh([runner, "-e", demo_tarball, "-u", target, "--", "python", "-c", CODE],
              env=env, cwd=tmp_path)  # fmt: skip
    assert proc.stdout.strip() == str(target)


def test_two_dirs_share_what_pip_installed_through_the_node_store(
    run_venv: Venv, demo_tarball: Path, tmp_path: Path
) -> None:
    """conda-unpack lists only the files that hold the build prefix, so the text files pip
    installed (a METADATA, the .py files) are shared between two DIRs of one node, and each
    DIR still runs from its own place; the files relocation rewrites are each DIR's own."""
    for name in ("a", "b"):
        proc = sh(
            [run_venv.script("poncho_package_run"), "-e", demo_tarball, "-u", tmp_path / name,
             "--", "python", "-c", CODE],
            env=run_venv.env(),
        )  # fmt: skip
        assert proc.stdout.strip() == str(tmp_path / name)
    a, b = tmp_path / "a", tmp_path / "b"
    metadata = sorted(a.glob("lib/python3*/site-packages/poncho_demo*.dist-info/METADATA"))
    assert metadata
    for path in metadata:
        twin = b / path.relative_to(a)
        assert path.stat().st_ino == twin.stat().st_ino and path.stat().st_nlink == 3
    records = (a / "bin" / "conda-unpack").read_text()
    assert ".dist-info/METADATA" not in records
    rewritten = [line.split("'")[1] for line in records.splitlines() if line.startswith("('")]
    assert rewritten
    for rel in rewritten:
        assert (a / rel).stat().st_ino != (b / rel).stat().st_ino, rel

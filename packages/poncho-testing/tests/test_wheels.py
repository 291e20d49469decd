"""The wheelhouse and the local project install with a real pip, offline."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import platform
import subprocess
import zipfile
from pathlib import Path

import pytest

from poncho_testing import (
    BuildError,
    LocalChannel,
    Wheelhouse,
    build_wheelhouse,
    install_prefix,
    make_local_project,
)


def offline_env() -> dict[str, str]:
    drop = ("PYTHON", "VIRTUAL_ENV", "PIP_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.fixture(scope="module")
def pip_prefix(local_channel: LocalChannel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pip-env")
    install_prefix(local_channel, ["python", "pip"], work / "prefix")
    return work / "prefix"


def pip(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(prefix / "bin" / "python"), "-m", "pip", "--no-cache-dir", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=offline_env(), check=False)


def check_record(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        (record_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        rows = list(csv.reader(io.StringIO(zf.read(record_name).decode())))
        assert {row[0] for row in rows} == set(zf.namelist())
        for path, digest, size in rows:
            if path == record_name:
                assert digest == size == ""
                continue
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}"
            assert int(size) == len(data)


def test_wheelhouse_holds_two_valid_wheels(wheelhouse: Wheelhouse) -> None:
    assert set(wheelhouse.wheels) == {"poncho-demo-pipbase", "poncho-demo-piptop"}
    assert wheelhouse.url == wheelhouse.path.as_uri()
    for wheel in wheelhouse.wheels.values():
        assert wheel.parent == wheelhouse.path and wheel.name.endswith("-py3-none-any.whl")
        check_record(wheel)
    with zipfile.ZipFile(wheelhouse.wheels["poncho-demo-piptop"]) as zf:
        meta = zf.read("poncho_demo_piptop-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: poncho-demo-pipbase>=0.1.0" in meta.splitlines()


def test_wheels_are_reproducible(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    again = build_wheelhouse(tmp_path)
    assert again.path == tmp_path.resolve()
    for name, wheel in wheelhouse.wheels.items():
        assert again.wheels[name].read_bytes() == wheel.read_bytes()


@pytest.mark.slow
def test_pip_installs_from_the_wheelhouse(pip_prefix: Path, wheelhouse: Wheelhouse) -> None:
    out = pip(
        pip_prefix,
        "install",
        "--no-index",
        "--find-links",
        str(wheelhouse.path),
        "poncho-demo-piptop",
    )
    assert out.returncode == 0, out.stderr
    assert "poncho-demo-pipbase" in out.stdout
    script = subprocess.run(
        [str(pip_prefix / "bin" / "poncho-demo-piptop")],
        capture_output=True,
        text=True,
        env=offline_env(),
        check=False,
    )
    assert script.stdout.strip() == "poncho-demo-piptop on pipbase"


@pytest.mark.slow
def test_local_project_builds_offline(pip_prefix: Path, tmp_path: Path) -> None:
    project = make_local_project(tmp_path / "proj", "poncho-demo-local")
    editable = make_local_project(tmp_path / "edit", "poncho-demo-editable", "2.0")
    # Build isolation on: the isolated build env gets nothing installed (requires = []).
    out = pip(pip_prefix, "install", "--no-index", str(project), "-e", str(editable))
    assert out.returncode == 0, out.stderr
    (editable / "src" / "poncho_demo_editable" / "extra.py").write_text("X = 42\n")
    code = (
        "import poncho_demo_local, poncho_demo_editable.extra as e, importlib.metadata as m;"
        "print(poncho_demo_local.VALUE, e.X, m.version('poncho-demo-editable'))"
    )
    run = subprocess.run(
        [str(pip_prefix / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        env=offline_env(),
        check=False,
    )
    assert run.stdout.split() == ["poncho-demo-local", "42", "2.0"], run.stderr


def test_local_project_sdist(tmp_path: Path) -> None:
    import sys
    import tarfile

    project = make_local_project(tmp_path / "proj", "poncho-demo-sdist")
    code = (
        "import sys; sys.path.insert(0, '_build'); import backend;"
        "print(backend.build_sdist(sys.argv[1]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=project,
        capture_output=True,
        text=True,
        env=offline_env(),
        check=True,
    )
    sdist = tmp_path / out.stdout.strip()
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert "poncho_demo_sdist-0.1.0/PKG-INFO" in names
    assert "poncho_demo_sdist-0.1.0/src/poncho_demo_sdist/__init__.py" in names


def test_local_project_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not a valid project name"):
        make_local_project(tmp_path, "../evil")


def test_platform_wheelhouse(platform_wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    from poncho_testing import EM_AARCH64, EM_X86_64, LocalChannel, build_platform_wheelhouse

    names = set(platform_wheelhouse.wheels)
    assert {
        "poncho_demo_pipbase-0.1.0-py3-none-any.whl",
        "poncho_demo_sdistonly-0.1.0.tar.gz",
    } <= names
    native = sorted(n for n in names if n.startswith("poncho_demo_native-"))
    assert native and len(native) % 2 == 0
    assert not [n for n in names if n.startswith("poncho_demo_x86only-") and "x86_64" not in n]
    machines = {"aarch64": EM_AARCH64, "x86_64": EM_X86_64}
    for name in native:
        wheel = platform_wheelhouse.wheels[name]
        check_record(wheel)
        tag = name[len("poncho_demo_native-0.1.0-") : -len(".whl")]
        with zipfile.ZipFile(wheel) as zf:
            assert f"Tag: {tag}\n" in zf.read("poncho_demo_native-0.1.0.dist-info/WHEEL").decode()
            assert (
                "Root-Is-Purelib: false"
                in zf.read("poncho_demo_native-0.1.0.dist-info/WHEEL").decode()
            )
            for member in (
                "poncho_demo_native/helper",
                "poncho_demo_native-0.1.0.data/scripts/poncho-demo-native-helper",
            ):
                info = zf.getinfo(member)
                assert info.external_attr >> 16 == 0o100755  # a regular file, rwxr-xr-x
                (tmp_path / "elf").write_bytes(zf.read(member))
                from poncho_testing import elf_machine

                assert elf_machine(tmp_path / "elf") == machines[tag.split("manylinux2014_")[1]]
    with pytest.raises(BuildError, match=r"not a Python X\.Y version"):
        build_platform_wheelhouse(["311"], tmp_path / "bad")
    again = build_platform_wheelhouse(["3.11"], tmp_path / "again")
    assert "poncho_demo_native-0.1.0-cp311-cp311-manylinux2014_aarch64.whl" in again.wheels
    assert isinstance(LocalChannel, type)


@pytest.mark.slow
def test_pip_rejects_the_other_machines_wheels(
    pip_prefix: Path, platform_wheelhouse: Wheelhouse
) -> None:
    """pip of this machine takes the x86-64 wheel of this Python and never an aarch64 one;
    the sdist-only package needs a build, which --only-binary refuses."""
    common = ("--no-index", "--find-links", str(platform_wheelhouse.path), "--dry-run")
    out = pip(pip_prefix, "install", *common, "--report", "-", "--quiet", "poncho-demo-native")
    assert out.returncode == 0, out.stderr
    if "x86_64" in platform.machine():
        assert "manylinux2014_x86_64" in out.stdout and "aarch64" not in out.stdout
    out = pip(pip_prefix, "install", *common, "--only-binary=:all:", "poncho-demo-sdistonly")
    assert out.returncode != 0 and "poncho-demo-sdistonly" in out.stderr

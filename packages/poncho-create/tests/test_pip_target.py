"""pip entries for another platform: a real linux-aarch64 environment built on this machine.

The local channel's ``python`` for linux-aarch64 is a stand-in whose ``bin/python`` is a
real aarch64 executable (poncho-testing): it cannot run here, so a build that tried to run
it would fail. The platform wheelhouse has aarch64 and x86-64 wheels of
``poncho-demo-native`` for the stand-in's Python and for this one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import create
from poncho_create.errors import PipError
from poncho_create.pip_target import (
    describe_missing,
    move_into_prefix,
    platform_tags,
    target_python,
)
from poncho_testing import EM_AARCH64, LocalChannel, Wheelhouse, elf_machine

PLATFORM = "linux-aarch64"


def spec(channel: LocalChannel, *pip: str) -> dict[str, Any]:
    return {"conda": {"channels": [channel.url], "dependencies": ["python", {"pip": list(pip)}]}}


def pip_options(wheelhouse: Wheelhouse) -> dict[str, Any]:
    return {"find_links": [str(wheelhouse.path)], "no_index": True}


def elf_files(root: Path) -> dict[str, int]:
    """Every ELF file under `root` (links not followed) and its machine."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if not path.is_symlink():
                machine = elf_machine(path)
                if machine is not None:
                    found[str(path.relative_to(root))] = machine
    return found


@pytest.fixture(scope="module")
def aarch64_build(
    local_channel: LocalChannel,
    platform_wheelhouse: Wheelhouse,
    tmp_path_factory: pytest.TempPathFactory,
    pkgs_dir: Path,
) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("aarch64")
    the_spec = spec(local_channel, "poncho-demo-native", "poncho-demo-piptop")
    out = create(
        the_spec,
        work / "env.tar.gz",
        platform=PLATFORM,
        keep_prefix=work / "prefix",
        lock_out=work / "lock.json",
        pkgs_dir=pkgs_dir,
        **pip_options(platform_wheelhouse),
    )
    unpacked = work / "unpacked"
    unpacked.mkdir()
    with tarfile.open(out) as tar:
        tar.extractall(unpacked, filter="tar")
    return {
        "spec": the_spec,
        "tarball": out,
        "prefix": work / "prefix",
        "unpacked": unpacked,
        "lock": json.loads((work / "lock.json").read_text()),
        "work": work,
    }


def test_the_target_python_cannot_run_here(aarch64_build: dict[str, Any]) -> None:
    """The premise of the whole file: had the build run the target's python, it failed."""
    python = aarch64_build["prefix"] / "bin" / "python"
    assert elf_machine(python) == EM_AARCH64
    if elf_machine("/bin/sh") == EM_AARCH64:
        pytest.skip("this machine is aarch64")
    try:
        subprocess.run([str(python), "-c", ""], check=False, capture_output=True)
    except OSError as exc:
        assert exc.errno == 8  # ENOEXEC: Exec format error
    else:
        pytest.skip("aarch64 binaries run here (binfmt_misc with qemu)")


def test_every_elf_file_is_aarch64(aarch64_build: dict[str, Any], local_channel: Any) -> None:
    short = ".".join(local_channel.foreign_pythons[PLATFORM].split(".")[:2])
    site = f"lib/python{short}/site-packages"
    for root in (aarch64_build["prefix"], aarch64_build["unpacked"]):
        found = elf_files(root)
        assert set(found) >= {
            f"bin/python{short}",
            "bin/poncho-demo-native-helper",  # a wheel's data script
            f"{site}/poncho_demo_native/helper",  # a wheel's package file
        }
        assert set(found.values()) == {EM_AARCH64}, found
        for rel in ("bin/poncho-demo-native-helper", f"{site}/poncho_demo_native/helper"):
            assert os.access(root / rel, os.X_OK), rel  # the wheel's mode kept


def test_the_lock_says_the_platform_and_each_wheel(
    aarch64_build: dict[str, Any], local_channel: LocalChannel
) -> None:
    lock = aarch64_build["lock"]
    assert lock["platform"] == PLATFORM
    with tarfile.open(aarch64_build["tarball"]) as tar:
        assert json.load(tar.extractfile("poncho/lock.json")) == lock  # type: ignore[arg-type]
    python = next(p for p in lock["conda"] if p["name"] == "python")
    assert "/linux-aarch64/" in python["url"]
    pip = {p["name"]: p for p in lock["pip"]}
    assert set(pip) == {"poncho-demo-native", "poncho-demo-pipbase", "poncho-demo-piptop"}
    tag = "cp" + "".join(python["version"].split(".")[:2])
    assert pip["poncho-demo-native"]["url"].endswith(f"-{tag}-{tag}-manylinux2014_aarch64.whl")
    for entry in pip.values():
        assert entry["source"] == "index" and len(entry["sha256"]) == 64
        assert entry["url"].startswith("file://")


def test_files_go_where_a_native_install_puts_them(
    aarch64_build: dict[str, Any], local_channel: LocalChannel
) -> None:
    prefix: Path = aarch64_build["prefix"]
    short = ".".join(local_channel.foreign_pythons[PLATFORM].split(".")[:2])
    site = prefix / "lib" / f"python{short}" / "site-packages"
    script = (prefix / "bin" / "poncho-demo-native").read_text()
    assert script.startswith(f"#!{prefix}/bin/python\n")  # the target's, not this python
    packed = (aarch64_build["unpacked"] / "bin" / "poncho-demo-native").read_text()
    assert packed.startswith("#!/usr/bin/env python")  # conda-pack made it relocatable
    # Every file is conda's or in a pip RECORD: no byte code of this interpreter, no leftovers.
    owned = {
        prefix / f
        for meta in (prefix / "conda-meta").glob("*.json")
        for f in json.loads(meta.read_text())["files"]
    }
    for record_file in site.glob("*.dist-info/RECORD"):
        rows = csv.reader(io.StringIO(record_file.read_text()))
        owned |= {(site / row[0]).resolve() for row in rows if row}
    stray = [p for p in prefix.rglob("*") if p.is_file() and p not in owned]
    stray = [p for p in stray if p.parent.name != "conda-meta"]
    assert {str(p.relative_to(prefix)) for p in stray} <= {
        "bin/run_in_env",
        "poncho/lock.json",
        "poncho/spec.json",
    }
    assert not (site / "bin").exists()
    record = (site / "poncho_demo_native-0.1.0.dist-info" / "RECORD").read_text()
    for row in csv.reader(io.StringIO(record)):
        assert (site / row[0]).resolve().is_file(), row[0]
    assert "../../../bin/poncho-demo-native," in record


def test_rebuild_from_the_lock(
    aarch64_build: dict[str, Any], platform_wheelhouse: Wheelhouse, pkgs_dir: Path
) -> None:
    work: Path = aarch64_build["work"]
    out = create(
        aarch64_build["spec"],
        work / "again.tar.gz",
        from_lock=work / "lock.json",
        lock_out=work / "again.json",
        keep_prefix=work / "again",
        pkgs_dir=pkgs_dir,
        **pip_options(platform_wheelhouse),
    )
    assert out.exists()
    again = json.loads((work / "again.json").read_text())
    assert again["platform"] == PLATFORM
    assert again["pip"] == aarch64_build["lock"]["pip"]
    assert set(elf_files(work / "again").values()) == {EM_AARCH64}


def test_a_changed_locked_wheel_is_refused(
    aarch64_build: dict[str, Any], platform_wheelhouse: Wheelhouse, pkgs_dir: Path, tmp_path: Path
) -> None:
    lock = json.loads(json.dumps(aarch64_build["lock"]))
    lock["pip"][0]["sha256"] = "0" * 64
    (tmp_path / "lock.json").write_text(json.dumps(lock))
    with pytest.raises(PipError, match="pip install failed"):
        create(
            aarch64_build["spec"],
            tmp_path / "o.tar.gz",
            from_lock=tmp_path / "lock.json",
            pkgs_dir=pkgs_dir,
            **pip_options(platform_wheelhouse),
        )
    assert not (tmp_path / "o.tar.gz").exists()


def test_packages_without_a_wheel_for_the_target_are_named(
    local_channel: LocalChannel, platform_wheelhouse: Wheelhouse, pkgs_dir: Path, tmp_path: Path
) -> None:
    the_spec = spec(
        local_channel, "poncho-demo-x86only", "poncho-demo-native", "poncho-demo-sdistonly"
    )
    with pytest.raises(PipError) as info:
        create(
            the_spec,
            tmp_path / "o.tar.gz",
            platform=PLATFORM,
            pkgs_dir=pkgs_dir,
            **pip_options(platform_wheelhouse),
        )
    lines = str(info.value).splitlines()
    assert len(lines) == 2, lines
    x86, sdist = lines
    assert x86.startswith("pip package 'poncho-demo-x86only' has no wheel for linux-aarch64")
    assert "manylinux2014_x86_64.whl" in x86 and "other platforms" in x86
    assert sdist.startswith("pip package 'poncho-demo-sdistonly' has no wheel for linux-aarch64")
    assert "poncho_demo_sdistonly-0.1.0.tar.gz" in sdist and "cannot be built" in sdist
    assert not (tmp_path / "o.tar.gz").exists()


def test_the_cli_prints_one_line_per_missing_package(
    local_channel: LocalChannel,
    platform_wheelhouse: Wheelhouse,
    pkgs_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from poncho_create.cli import main

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec(local_channel, "poncho-demo-nothere")))
    argv = ["--platform", PLATFORM, "--pkgs-dir", str(pkgs_dir), "--no-index"]
    argv += ["--find-links", str(platform_wheelhouse.path), str(spec_file), "o.tar.gz"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("poncho_package_create: error: pip package 'poncho-demo-nothere'")
    assert err[-1].endswith("no file of it was found")


def test_source_folders_cannot_be_built_for_the_target(
    local_channel: LocalChannel, pkgs_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    with pytest.raises(PipError, match="project' is a source folder or archive"):
        create(
            spec(local_channel, str(folder)),
            tmp_path / "o.tar.gz",
            platform=PLATFORM,
            pkgs_dir=pkgs_dir,
            no_index=True,
        )


def test_markers_are_those_of_the_target(
    local_channel: LocalChannel, platform_wheelhouse: Wheelhouse, pkgs_dir: Path, tmp_path: Path
) -> None:
    """Environment markers are evaluated for the target (aarch64, its Python), not here."""
    here = ".".join(local_channel.python_version.split(".")[:2])
    the_spec = spec(
        local_channel,
        "poncho-demo-pipbase; platform_machine == 'aarch64'",
        "poncho-demo-piptop; platform_machine != 'aarch64'",
        f"poncho-demo-x86only; python_version == '{here}'",
    )
    create(
        the_spec,
        tmp_path / "o.tar.gz",
        platform=PLATFORM,
        pkgs_dir=pkgs_dir,
        lock_out=tmp_path / "lock.json",
        **pip_options(platform_wheelhouse),
    )
    names = [p["name"] for p in json.loads((tmp_path / "lock.json").read_text())["pip"]]
    assert names == ["poncho-demo-pipbase"]


def test_a_local_wheel_file_is_installed(
    local_channel: LocalChannel, platform_wheelhouse: Wheelhouse, pkgs_dir: Path, tmp_path: Path
) -> None:
    short = "".join(local_channel.foreign_pythons[PLATFORM].split(".")[:2])
    wheel = platform_wheelhouse.wheels[
        f"poncho_demo_native-0.1.0-cp{short}-cp{short}-manylinux2014_aarch64.whl"
    ]
    create(
        spec(local_channel, str(wheel)),
        tmp_path / "o.tar.gz",
        platform=PLATFORM,
        pkgs_dir=pkgs_dir,
        lock_out=tmp_path / "lock.json",
        **pip_options(platform_wheelhouse),
    )
    pip = {p["name"]: p for p in json.loads((tmp_path / "lock.json").read_text())["pip"]}
    assert pip["poncho-demo-native"]["source"] == "path"
    assert pip["poncho-demo-pipbase"]["source"] == "index"


def test_platform_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDA_OVERRIDE_GLIBC", raising=False)
    monkeypatch.delenv("CONDA_OVERRIDE_OSX", raising=False)
    assert platform_tags(PLATFORM) == (
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
        "linux_aarch64",
    )
    x86 = platform_tags("linux-64")
    assert x86[:2] == ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
    assert "manylinux2010_x86_64" in x86 and x86[-2:] == ("manylinux1_x86_64", "linux_x86_64")
    assert platform_tags("osx-arm64") == ("macosx_11_0_arm64",)
    monkeypatch.setenv("CONDA_OVERRIDE_GLIBC", "2.28")
    assert platform_tags(PLATFORM)[0] == "manylinux_2_28_aarch64"
    assert "manylinux_2_17_aarch64" in platform_tags(PLATFORM)
    monkeypatch.setenv("CONDA_OVERRIDE_GLIBC", "new")
    with pytest.raises(PipError, match="CONDA_OVERRIDE_GLIBC: 'new' is not a version"):
        platform_tags(PLATFORM)


def test_target_python_needs_a_python_and_a_posix_layout(tmp_path: Path) -> None:
    (tmp_path / "conda-meta").mkdir()
    with pytest.raises(PipError, match="cannot be installed for win-64"):
        target_python(tmp_path, "win-64")
    with pytest.raises(PipError, match="the environment has no python"):
        target_python(tmp_path, PLATFORM)
    meta = {"name": "python", "version": "3.12.1"}
    (tmp_path / "conda-meta" / "python-3.12.1-h0.json").write_text(json.dumps(meta))
    target = target_python(tmp_path, "osx-arm64")
    assert (target.abi, target.short_version) == ("cp312", "3.12")
    assert target.markers()["sys_platform"] == "darwin"
    assert target.markers()["platform_machine"] == "arm64"
    with pytest.raises(PipError, match="no pip in"):
        target.pip_command()


def test_describe_missing_lists_a_few_files(tmp_path: Path) -> None:
    (tmp_path / "conda-meta").mkdir()
    meta = {"name": "python", "version": "3.11.9"}
    (tmp_path / "conda-meta" / "python-3.11.9-h0.json").write_text(json.dumps(meta))
    target = target_python(tmp_path, PLATFORM)
    output = "\n".join(
        f"  Skipping link: none of the wheel's tags are compatible: "
        f"https://x.org/f/Some_Pkg-1.{i}-cp311-cp311-win_amd64.whl#sha256=00 (from https://x.org/)"
        for i in range(5)
    )
    output += "\n  Skipping link: No binaries permitted: https://x.org/f/other-1.0.tar.gz"
    line = describe_missing("some-pkg", target, output)
    assert "Some_Pkg-1.0-cp311-cp311-win_amd64.whl" in line and "+2 more" in line
    assert "other-1.0" not in line and "source" not in line


def test_conda_packages_are_not_replaced(aarch64_build: dict[str, Any], tmp_path: Path) -> None:
    """A wheel of a package conda installed (pip itself here) is refused, nothing moved."""
    target = target_python(aarch64_build["prefix"], PLATFORM)
    staging = tmp_path / "staging"
    (staging / "pip-99.0.dist-info").mkdir(parents=True)
    (staging / "pip-99.0.dist-info" / "RECORD").write_text("pip-99.0.dist-info/RECORD,,\n")
    with pytest.raises(PipError, match="'pip' would replace the one already in the environment"):
        move_into_prefix(staging, target)
    assert (staging / "pip-99.0.dist-info" / "RECORD").exists()

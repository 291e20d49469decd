"""--conda-exe: the command lines built, and the plumbing proven with a stand-in conda.

No real conda, mamba or micromamba can be installed here: the stand-in below takes the same
command line and creates the prefix with py-rattler.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import CondaExeError, CondaLockEntry, Lock, create
from poncho_create.engine_external import create_command, environment_file, explicit_file

FAKE_CONDA = '''#!{python}
"""Stand-in for conda/mamba/micromamba `create`: logs its argv, builds with py-rattler."""
import asyncio, json, os, sys
import rattler

args = sys.argv[1:]
with open(os.environ["FAKE_CONDA_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_CONDA_FAIL"):
    print("Collecting package metadata: done")
    print("PackagesNotFoundError: the following packages are missing: nothing-here")
    sys.exit(1)
if os.environ.get("FAKE_CONDA_NOTHING"):
    sys.exit(0)
assert args[0] == "create"
flags = [a for a in args[1:] if a not in ("--yes", "-y")]
opts = dict(zip(flags[::2], flags[1::2]))
prefix = opts.get("--prefix") or opts["-p"]
env_file = opts.get("--file") or opts["-f"]
text = open(env_file).read()
channels, specs = [], []
if "@EXPLICIT" in text:
    for url in text.split("@EXPLICIT", 1)[1].split():
        url = url.split("#")[0]
        channel, _, filename = url.rsplit("/", 2)
        stem = filename.removesuffix(".conda").removesuffix(".tar.bz2")
        name, version, build = stem.rsplit("-", 2)
        channels.append(channel)
        specs.append(f"{{name}} =={{version}} {{build}}")
else:
    section = None
    for line in text.splitlines():
        if line.endswith(":"):
            section = line[:-1]
        elif line.startswith("  - "):
            (channels if section == "channels" else specs).append(json.loads(line[4:]))
platform = opts.get("--platform", str(rattler.Subdir.current()))
async def main():
    records = await rattler.solve(sources=list(dict.fromkeys(channels)), specs=specs,
                                  platforms=[platform, "noarch"])
    await rattler.install(records, prefix, show_progress=False,
                          cache_dir=os.environ["FAKE_CONDA_PKGS"])
asyncio.run(main())
# py-rattler can crash (SIGSEGV) in interpreter shutdown when the process exits right after
# install on a loaded machine (seen ~1 run in 20 with 3 in parallel); a real conda exits cleanly.
sys.stdout.flush()
os._exit(0)
'''


@pytest.fixture
def fake_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pkgs_dir: Path) -> Path:
    exe = tmp_path / "bin" / "conda"
    exe.parent.mkdir()
    exe.write_text(FAKE_CONDA.format(python=sys.executable))
    exe.chmod(0o755)
    monkeypatch.setenv("FAKE_CONDA_LOG", str(tmp_path / "conda.log"))
    monkeypatch.setenv("FAKE_CONDA_PKGS", str(pkgs_dir))
    return exe


def calls(fake_conda: Path) -> list[list[str]]:
    log = fake_conda.parent.parent / "conda.log"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_command_lines() -> None:
    p, f = Path("/p"), Path("/w/env.yml")
    assert create_command(Path("/opt/conda/bin/conda"), p, f) == [
        "/opt/conda/bin/conda", "create", "--prefix", "/p", "--yes", "--file", "/w/env.yml",
    ]  # fmt: skip
    assert create_command(Path("mamba"), p, f, platform="osx-arm64") == [
        "mamba", "create", "--prefix", "/p", "--yes", "--file", "/w/env.yml",
        "--platform", "osx-arm64",
    ]  # fmt: skip
    assert create_command(Path("/x/micromamba"), p, f) == [
        "/x/micromamba", "create", "-p", "/p", "-y", "-f", "/w/env.yml",
    ]  # fmt: skip


def test_environment_and_explicit_files() -> None:
    text = environment_file(["conda-forge", "file:///c h"], ["python >=3.10", "numpy"])
    assert text == (
        'channels:\n  - "conda-forge"\n  - "file:///c h"\n'
        'dependencies:\n  - "python >=3.10"\n  - "numpy"\n'
    )
    lock = Lock("linux-64", "h", conda=(
        CondaLockEntry("a", "1", "0", "c", "https://c/noarch/a-1-0.conda", "f" * 64),
        CondaLockEntry("b", "2", "0", "c", "https://c/noarch/b-2-0.tar.bz2", None),
    ))  # fmt: skip
    assert explicit_file(lock).splitlines() == [
        "# created by poncho-create from a lock",
        "# platform: linux-64",
        "@EXPLICIT",
        f"https://c/noarch/a-1-0.conda#{'f' * 64}",
        "https://c/noarch/b-2-0.tar.bz2",
    ]


@pytest.mark.slow
def test_builds_with_the_given_conda_and_from_its_lock(
    fake_conda: Path, mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec = helpers.mini_spec(mini_channel)
    out = create(spec, tmp_path / "env.tar.gz", conda_exe=fake_conda,
                 lock_out=tmp_path / "lock.json", **build_dirs)  # fmt: skip
    with tarfile.open(out) as tar:
        assert "bin/mini-tool" in tar.getnames()
    lock = json.loads((tmp_path / "lock.json").read_text())
    assert sorted(p["name"] for p in lock["conda"]) == ["mini-base", "mini-tool"]
    first = calls(fake_conda)[0]
    assert first[:2] == ["create", "--prefix"] and first[3:5] == ["--yes", "--file"]
    assert first[5].endswith("env.yml")

    again = create(spec, tmp_path / "again.tar.gz", conda_exe=fake_conda,
                   from_lock=tmp_path / "lock.json", lock_out=tmp_path / "again.json",
                   **build_dirs)  # fmt: skip
    assert again.exists()
    assert calls(fake_conda)[1][5].endswith("explicit.txt")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "lock.json").read_text()
    assert list(build_dirs["tmp_dir"].iterdir()) == []


def test_conda_failure_shows_its_output(
    fake_conda: Path,
    mini_channel: Any,
    helpers: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_CONDA_FAIL", "1")
    with pytest.raises(CondaExeError, match=r"conda create failed \(exit code 1\)") as info:
        create(helpers.mini_spec(mini_channel), conda_exe=fake_conda, **build_dirs)
    assert "PackagesNotFoundError" in str(info.value)
    monkeypatch.delenv("FAKE_CONDA_FAIL")
    monkeypatch.setenv("FAKE_CONDA_NOTHING", "1")
    with pytest.raises(CondaExeError, match="made no environment"):
        create(helpers.mini_spec(mini_channel), conda_exe=fake_conda, **build_dirs)
    assert list(build_dirs["tmp_dir"].iterdir()) == []
    assert [p.name for p in build_dirs["cache_dir"].iterdir()] == [".locks"]


def test_missing_executables(
    mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    with pytest.raises(CondaExeError, match="not an executable file"):
        create(helpers.mini_spec(mini_channel), conda_exe=tmp_path / "nope", **build_dirs)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CondaExeError, match="micromamba: not found on PATH"):
        create(helpers.mini_spec(mini_channel), conda_exe="micromamba", **build_dirs)
    (tmp_path / "micromamba").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "micromamba").chmod(0o755)
    with pytest.raises(CondaExeError, match="micromamba create succeeded but made no env"):
        create(helpers.mini_spec(mini_channel), conda_exe="micromamba", **build_dirs)

"""--conda-exe: the command lines built, and the plumbing proven with a stand-in conda.

No real conda, mamba or micromamba can be installed here: the stand-in below takes the same
command line and creates the prefix with py-rattler.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_create import CondaExeError, CondaLockEntry, Lock, create
from poncho_create.engine_external import create_command, explicit_file

FAKE_CONDA = '''#!{python}
"""Stand-in for `conda|mamba|micromamba create`, parsing its command line as they do.

From their documentation: `create --file F` reads match specs one a line or an @EXPLICIT list,
never an environment.yml (conda 23.11+: "could not parse"); `-c/--channel` is repeatable
and comes before the channels of the .condarc ($CONDARC here), which `--override-channels`
leaves out. It logs its argv and builds the prefix with py-rattler.
"""
import argparse, asyncio, json, os, sys
import rattler

with open(os.environ["FAKE_CONDA_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_CONDA_FAIL"):
    print("Collecting package metadata: done")
    print("PackagesNotFoundError: the following packages are missing: nothing-here")
    sys.exit(1)
if os.environ.get("FAKE_CONDA_NOTHING"):
    sys.exit(0)
parser = argparse.ArgumentParser(prog="conda")
sub = parser.add_subparsers(dest="command", required=True)
create = sub.add_parser("create")
create.add_argument("-p", "--prefix", required=True)
create.add_argument("-y", "--yes", action="store_true")
create.add_argument("-c", "--channel", action="append", default=[])
create.add_argument("--override-channels", action="store_true")
create.add_argument("-f", "--file", action="append", default=[])
create.add_argument("--platform")
create.add_argument("specs", nargs="*")
args = parser.parse_args()
channels, specs = list(args.channel), list(args.specs)
if not args.override_channels and os.environ.get("CONDARC"):
    lines = open(os.environ["CONDARC"]).read().splitlines()
    channels += [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
for name in args.file:
    text = open(name).read()
    if "@EXPLICIT" in text:
        for url in text.split("@EXPLICIT", 1)[1].split():
            channel, _, filename = url.split("#")[0].rsplit("/", 2)
            stem = filename.removesuffix(".conda").removesuffix(".tar.bz2")
            pkg, version, build = stem.rsplit("-", 2)
            channels.append(channel)
            specs.append(f"{{pkg}} =={{version}} {{build}}")
        continue
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if ":" in line and "::" not in line:
            print(f"CondaValueError: could not parse '{{line}}' in: {{name}}", file=sys.stderr)
            sys.exit(1)
        if line:
            specs.append(line)
if not args.yes:
    print("Proceed ([y]/n)? EOFError", file=sys.stderr)
    sys.exit(1)
platform = args.platform or str(rattler.Subdir.current())
async def main():
    records = await rattler.solve(sources=list(dict.fromkeys(channels)), specs=specs,
                                  platforms=[platform, "noarch"])
    await rattler.install(records, args.prefix, show_progress=False,
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
    p, f = Path("/p"), Path("/w/explicit.txt")
    assert create_command(
        Path("/opt/conda/bin/conda"), p, channels=["conda-forge", "file:///c h"],
        specs=["python >=3.10", "numpy"],
    ) == [
        "/opt/conda/bin/conda", "create", "--prefix", "/p", "--yes", "--override-channels",
        "--channel", "conda-forge", "--channel", "file:///c h", "python >=3.10", "numpy",
    ]  # fmt: skip
    assert create_command(Path("mamba"), p, explicit=f, platform="osx-arm64") == [
        "mamba", "create", "--prefix", "/p", "--yes", "--file", "/w/explicit.txt",
        "--platform", "osx-arm64",
    ]  # fmt: skip
    assert create_command(Path("/x/micromamba"), p, channels=["c"], specs=["a"]) == [
        "/x/micromamba", "create", "-p", "/p", "-y", "--override-channels", "--channel", "c", "a",
    ]  # fmt: skip


def test_explicit_file() -> None:
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


def test_the_stand_in_refuses_yaml_given_to_create_file(fake_conda: Path, tmp_path: Path) -> None:
    """What the previous command line did (`create --file env.yml`), real conda refuses."""
    env_yml = tmp_path / "env.yml"
    env_yml.write_text("channels:\n  - conda-forge\ndependencies:\n  - python\n")
    out = subprocess.run(
        [str(fake_conda), "create", "--prefix", str(tmp_path / "p"), "--yes",
         "--file", str(env_yml)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 1 and "could not parse 'channels:'" in out.stderr


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
    assert first[:2] == ["create", "--prefix"] and first[3:5] == ["--yes", "--override-channels"]
    assert first[5:7] == ["--channel", mini_channel.url]

    again = create(spec, tmp_path / "again.tar.gz", conda_exe=fake_conda,
                   from_lock=tmp_path / "lock.json", lock_out=tmp_path / "again.json",
                   **build_dirs)  # fmt: skip
    assert again.exists()
    assert calls(fake_conda)[1][4:6] == ["--file", calls(fake_conda)[1][5]]
    assert calls(fake_conda)[1][5].endswith("explicit.txt")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "lock.json").read_text()
    assert list(build_dirs["tmp_dir"].iterdir()) == []


@pytest.mark.slow
def test_the_users_condarc_channels_do_not_leak_into_the_build(
    fake_conda: Path,
    mini_channel: Any,
    helpers: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    condarc = tmp_path / "condarc"
    condarc.write_text(f"channel_priority: strict\nchannels:\n  - {(tmp_path / 'gone').as_uri()}\n")
    monkeypatch.setenv("CONDARC", str(condarc))
    # The stand-in, like conda, adds the .condarc channels when not told to leave them out:
    leaky = subprocess.run(
        [str(fake_conda), "create", "--prefix", str(tmp_path / "leaky"), "--yes",
         "--channel", mini_channel.url, "mini-tool"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert leaky.returncode != 0 and not (tmp_path / "leaky" / "conda-meta").exists()
    out = create(helpers.mini_spec(mini_channel), tmp_path / "env.tar.gz", conda_exe=fake_conda,
                 **build_dirs)  # fmt: skip
    with tarfile.open(out) as tar:
        assert "bin/mini-tool" in tar.getnames()


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

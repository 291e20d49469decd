"""`make demo` (demo/run_demo.py): every command it prints works when pasted where it says,
the repository's root, after the demo; and it names its channel and wheelhouse."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, Venv, make_venv, sh


@pytest.fixture(scope="module")
def demo_venv(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Venv:
    """What `make demo` installs: the tool set and poncho-testing (channel, wheelhouse)."""
    path = tmp_path_factory.mktemp("venvs") / "demo"
    return make_venv(path, "poncho-tools", str(ROOT / "packages" / "poncho-testing"),
                     find_links=dist)  # fmt: skip


def test_the_demo_prints_commands_that_work_pasted_in_the_root(
    tmp_path: Path, demo_venv: Venv
) -> None:
    root = tmp_path / "checkout"  # a repository root of its own: the demo writes demo-out/ there
    shutil.copytree(ROOT / "demo", root / "demo")
    env = demo_venv.env()
    env.pop("PONCHO_DEMO_OUT", None)
    proc = sh([demo_venv.python, root / "demo" / "run_demo.py"], cwd=tmp_path, env=env)
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Each $ line is a command you can paste in {root} (the repository's root)."
    # The channel and wheelhouse have names in demo-out/, which the guide's examples reuse.
    assert (root / "demo-out" / "channel" / "noarch" / "repodata.json").is_file()
    assert any((root / "demo-out" / "wheelhouse").glob("poncho_demo_piptop-*.whl"))
    assert any(line.startswith("  channel    demo-out/channel -> ") for line in lines)
    reuse = (
        "--channel demo-out/channel --override-channels --no-index --find-links demo-out/wheelhouse"
    )
    assert f"poncho_package_create {reuse} SPEC OUTPUT" in proc.stdout
    commands = [line[2:] for line in lines if line.startswith("$ ")]
    assert len(commands) == 8, commands
    assert not any(str(root) in c for c in commands), "paths inside the root are relative"
    # Pasted in the root, in order, with only what the demo says to do in between.
    (root / "demo-out" / "spec.json").unlink()
    shutil.rmtree(root / "demo-out" / "worker" / "env")
    for command in commands:
        if "--keep-prefix" in command:
            shutil.rmtree(root / "demo-out" / "user-env")  # "to run it again, rm -rf ... first"
        pasted = subprocess.run(["sh", "-c", command], cwd=root, env=env, capture_output=True,
                                text=True, check=False)  # fmt: skip
        assert pasted.returncode == 0, f"{command}\n{pasted.stdout}{pasted.stderr}"
    assert (root / "demo-out" / "spec.json").is_file()
    assert (root / "demo-out" / "worker" / "env" / "bin" / "python").exists()

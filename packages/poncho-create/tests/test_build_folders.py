"""Build folders: locked for their life, swept once their process is gone (real processes,
a real SIGKILL during install)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poncho_create.build_folders import build_folder, default_parents, sweep


def test_sweep_removes_only_folders_whose_lock_is_free(tmp_path: Path) -> None:
    with build_folder(parent=tmp_path) as live:
        (live / "env").mkdir()
        with build_folder(parent=tmp_path) as dead:
            (dead / "file").write_text("x")
        dead.mkdir()  # as a killed build leaves it: its lock file, unlocked
        (dead / ".poncho-build.lock").touch()
        (tmp_path / "poncho-create-nolock").mkdir()  # being made, or not ours
        (tmp_path / "other-folder").mkdir()
        assert sweep([tmp_path, tmp_path / "missing"]) == [dead]
        assert live.is_dir() and (live / "env").is_dir()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [live.name, "poncho-create-nolock", "other-folder"]
        )
    assert not live.exists()


def test_sweep_removes_a_killed_builds_prefix_and_never_a_live_one(tmp_path: Path) -> None:
    """A build prefix (stable_prefix) is locked by a sibling file: a killed build's prefix
    goes with its lock file; a prefix whose build holds its lock, in another process, stays."""
    from poncho_create.stable_prefix import stable_prefix

    dead = tmp_path / "poncho-create-env-0123456789abcdef"
    (dead / "lib").mkdir(parents=True)  # as a SIGKILL during install leaves it
    Path(f"{dead}.lock").touch()
    orphan_lock = tmp_path / "poncho-create-env-fedcba9876543210.lock"  # killed before mkdir
    orphan_lock.touch()
    code = (
        "import sys, time; from pathlib import Path\n"
        "from poncho_create.stable_prefix import stable_prefix\n"
        "with stable_prefix(Path(sys.argv[1]), 'h' * 64, 'linux-64') as prefix:\n"
        "    prefix.mkdir(); print(prefix, flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        live = Path(holder.stdout.readline().strip())
        assert live.is_dir()
        assert sorted(sweep([tmp_path])) == sorted([dead, orphan_lock.with_suffix("")])
        assert live.is_dir() and Path(f"{live}.lock").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, f"{live.name}.lock"]
    finally:
        holder.kill()
        holder.communicate()
    assert sweep([tmp_path]) == [live]  # killed: its prefix goes now
    assert list(tmp_path.iterdir()) == []
    with stable_prefix(tmp_path, "h" * 64, "linux-64") as prefix:  # and builds go on
        prefix.mkdir()
    assert list(tmp_path.iterdir()) == []


def test_default_parents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.delenv("PONCHO_CREATE_TMPDIR", raising=False)
    assert default_parents() == [Path(tempfile.gettempdir())]
    monkeypatch.setenv("PONCHO_CREATE_TMPDIR", str(tmp_path))
    assert default_parents() == [tmp_path, Path(tempfile.gettempdir())]
    assert default_parents(tmp_path / "x")[0] == tmp_path / "x"


_CREATE_UNTIL_INSTALL = """
import os, signal, sys
from poncho_create import create
from poncho_create.cli import main
how = sys.argv.pop(1)
seen = []
def until_install(*args, progress, **kw):
    def report(event):
        progress(event)
        if event.phase == "install" and not seen:
            seen.append(event)
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            print("installing", flush=True)
            sys.stdin.read()  # until the test closes our stdin
    return create(*args, progress=report, **kw)
sys.exit(main(sys.argv[1:], create=until_install))
"""


def _folders(tmp: Path) -> set[str]:
    return {p.name for p in tmp.iterdir() if p.name.startswith("poncho-create-")}


@pytest.mark.slow
def test_a_killed_create_leaves_no_debris_and_a_live_one_is_untouched(
    mini_channel: Any, helpers: Any, pkgs_dir: Path, tmp_path: Path
) -> None:
    """Issue 26.8: SIGKILL during install leaves poncho-create-* and poncho-create-json-*;
    the next create removes them, and not the folders of a build still running."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The build prefix in the temporary folder (no conda layer: that one is in the env cache).
    env = {**os.environ, "TMPDIR": str(tmp), "PONCHO_CREATE_LAYERS": "0"}
    env.pop("PONCHO_CREATE_TMPDIR", None)
    specs = []
    for i, deps in enumerate((["mini-tool"], ["mini-old"], ["mini-base"])):
        specs.append(tmp_path / f"spec{i}.json")
        specs[-1].write_text(json.dumps(helpers.mini_spec(mini_channel, *deps)))
    common = ["--json", "-q", "--pkgs-dir", str(pkgs_dir)]
    script = [sys.executable, "-c", _CREATE_UNTIL_INSTALL]

    killed = subprocess.run([*script, "kill", str(specs[0]), *common], env=env, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    debris = _folders(tmp)
    assert {name.startswith("poncho-create-json-") for name in debris} == {True, False}

    live = subprocess.Popen(
        [*script, "wait", str(specs[1]), *common],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert live.stdout is not None and live.stdout.readline() == "installing\n"
        live_folders = _folders(tmp) - debris
        # its two build folders, and its build prefix's lock (the prefix, once made)
        prefix = {name for name in live_folders if name.startswith("poncho-create-env-")}
        assert len(live_folders - prefix) == 2 and prefix
        later = subprocess.run(
            [sys.executable, "-m", "poncho_create", str(specs[2]), *common],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert later.returncode == 0, later.stderr
        assert _folders(tmp) == live_folders  # the debris is gone, the live build's kept
        assert all((tmp / name / ".poncho-build.lock").exists() for name in live_folders - prefix)
    finally:
        out, _ = live.communicate("", timeout=120)
    assert live.returncode == 0 and json.loads(out)["cache_hit"] is False
    assert _folders(tmp) == set()

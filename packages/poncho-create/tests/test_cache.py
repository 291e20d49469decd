"""The env cache: names, lookups, and the build lock with real processes racing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poncho_create.cache import EnvCache, cache_name

H = "0" * 64


def test_names() -> None:
    assert cache_name(H, "linux-64", "tar.gz") == f"{H}-linux-64.tar.gz"
    assert cache_name(H, "osx-arm64", "tar.zst") == f"{H}-osx-arm64.tar.zst"
    variants = {
        cache_name(H, "linux-64", "tar.gz", channels=["a"]),
        cache_name(H, "linux-64", "tar.gz", channels=["b"]),
        cache_name(H, "linux-64", "tar.gz", pip_options=["--no-index"]),
        cache_name(H, "linux-64", "tar.gz", lock_digest="1" * 64),
    }
    assert len(variants) == 4
    assert all(len(n) == len(f"{H}-linux-64-") + 12 + len(".tar.gz") for n in variants)
    # Same inputs, same name.
    assert cache_name(H, "linux-64", "tar.gz", channels=["a"]) in variants


def test_lookup(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs")
    assert cache.lookup("x.tar.gz") is None
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "x.tar.gz").write_bytes(b"tar")
    (tmp_path / "envs" / "d.tar.gz").mkdir()
    assert cache.lookup("x.tar.gz") == tmp_path / "envs" / "x.tar.gz"
    assert cache.lookup("d.tar.gz") is None


_HOLD = """
import sys, time
from pathlib import Path
from poncho_create.cache import EnvCache
root, name, log, tag = sys.argv[1:]
with EnvCache(Path(root)).building(name):
    with open(log, "a") as fh:
        fh.write(f"start {tag}\\n")
    time.sleep(0.3)  # widen the window in which a broken lock would interleave
    with open(log, "a") as fh:
        fh.write(f"end {tag}\\n")
"""


def test_build_lock_excludes_other_processes(tmp_path: Path) -> None:
    log = tmp_path / "log"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(tmp_path / "envs"), "n.tar.gz", str(log), str(i)]
        )
        for i in range(3)
    ]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    lines = log.read_text().splitlines()
    assert len(lines) == 6
    for i in range(0, 6, 2):
        assert lines[i].startswith("start") and lines[i + 1] == "end" + lines[i][5:]


_CREATE = """
import json, sys
from poncho_create import create
spec, dirs, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
phases = set()
path = create(spec, threads=1, progress=lambda e: phases.add(e.phase), **dirs)
open(out, "w").write(json.dumps([str(path), sorted(phases)]))
"""


@pytest.mark.slow
def test_concurrent_creates_of_one_spec_share_one_entry(
    mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec = json.dumps(helpers.mini_spec(mini_channel))
    dirs = json.dumps({k: str(v) for k, v in build_dirs.items()})
    outs = [tmp_path / f"out{i}" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", _CREATE, spec, dirs, str(o)]) for o in outs]
    assert [p.wait(120) for p in procs] == [0, 0, 0]
    results = [json.loads(o.read_text()) for o in outs]
    paths = {path for path, _ in results}
    assert len(paths) == 1
    # One process built; the others waited for its lock and then found its tarball.
    assert sorted("pack" in phases for _, phases in results) == [False, False, True]
    assert sorted(phases == ["cache"] for _, phases in results) == [False, True, True]
    entries = [p.name for p in build_dirs["cache_dir"].iterdir() if p.name != ".locks"]
    assert entries == [Path(paths.pop()).name]
    assert list(build_dirs["tmp_dir"].iterdir()) == []

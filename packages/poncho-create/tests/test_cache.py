"""The env cache: names, lookups, and the build lock with real processes racing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from poncho_create.cache import EnvCache, PackageCache, cache_name

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
    entries = [p.name for p in build_dirs["cache_dir"].iterdir() if not p.name.startswith(".")]
    assert sorted(entries) == sorted([Path(paths.pop()).name, "layers"])
    assert list(build_dirs["tmp_dir"].iterdir()) == []


HOLDER = """
import sys, time
from pathlib import Path
from poncho_create.cache import EnvCache, PackageCache
kind, root, name = sys.argv[1:]
held = EnvCache(Path(root)).building(name) if kind == "env" else PackageCache(Path(root)).in_use()
with held:
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def _hold(kind: str, root: Path, name: str = "") -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, str(root), name],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_env_entries_and_remove_spare_a_running_build(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path)
    for name, age in (("old.tar.gz", 1000), ("new.tar.zst", 10)):
        (tmp_path / name).write_bytes(b"x" * 10)
        stamp = (tmp_path / name).stat().st_mtime - age
        os.utime(tmp_path / name, (stamp, stamp))
    (tmp_path / "notes.txt").write_text("not an environment")
    assert [(e.name, e.size) for e in cache.entries()] == [("old.tar.gz", 10), ("new.tar.zst", 10)]
    assert not cache.busy("old.tar.gz") and not (tmp_path / ".locks").exists()
    holder = _hold("env", tmp_path, "old.tar.gz")
    try:
        assert cache.busy("old.tar.gz") and not cache.busy("new.tar.zst")
        assert cache.remove("old.tar.gz") is False  # a build of it holds its lock
        assert (tmp_path / "old.tar.gz").exists()
    finally:
        holder.communicate("")
    assert cache.remove("old.tar.gz") is True
    assert [e.name for e in cache.entries()] == ["new.tar.zst"]


def test_the_package_cache_is_never_pruned_under_a_build(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path)
    (tmp_path / "pkg-1.0-0").mkdir()
    (tmp_path / "pkg-1.0-0" / "file").write_bytes(b"x" * 5)
    (tmp_path / "pkg-1.0-0.conda").write_bytes(b"y" * 3)
    (tmp_path / "pkg-1.0-0.lock").write_bytes(b"rattler's")
    assert {(e.name, e.size) for e in cache.entries()} == {("pkg-1.0-0", 5), ("pkg-1.0-0.conda", 3)}
    assert not cache.busy()
    holder = _hold("pkgs", tmp_path)
    try:
        assert cache.busy()
        assert cache.remove(["pkg-1.0-0"]) is None
        assert (tmp_path / "pkg-1.0-0" / "file").exists()
    finally:
        holder.communicate("")
    for path in (tmp_path / "pkg-1.0-0", tmp_path / "pkg-1.0-0.conda"):
        os.utime(path, (1e9, 1e9))
    cache.mark_used(["pkg-1.0-0", "not-in-the-cache-1-0"])  # a build installed them
    assert all(e.last_used > time.time() - 600 for e in cache.entries())
    assert cache.remove(["pkg-1.0-0", "pkg-1.0-0.conda"]) == ["pkg-1.0-0", "pkg-1.0-0.conda"]
    assert cache.entries() == []
    assert not (tmp_path / "pkg-1.0-0.lock").exists()


NOBODY = """
import importlib.util, sys
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]).parent))  # poncho_core, copied beside the module
spec = importlib.util.spec_from_file_location("cache", sys.argv[1])
cache = sys.modules["cache"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cache)
with cache.PackageCache(Path(sys.argv[2])).in_use():
    print("built from a read-only cache")
"""


def test_a_read_only_package_cache_needs_no_lock(tmp_path: Path) -> None:
    """Another user builds from a package cache it cannot write: no lock, no error."""
    import shutil

    import poncho_create.cache

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root, to run as another user with setpriv")
    import tempfile

    # pytest's tmp_path is private to root: a folder another user can enter, under /tmp.
    public = Path(tempfile.mkdtemp(prefix="poncho-shared-"))
    try:
        public.chmod(0o755)
        shared = public / "shared-pkgs"  # made by root, 0755: read-only for nobody
        shared.mkdir(mode=0o755)
        module = public / "cache_module.py"  # a copy nobody can read, outside /root
        shutil.copy(poncho_create.cache.__file__, module)
        module.chmod(0o644)
        import poncho_core  # the stdlib-only package the module imports, readable by nobody

        shutil.copytree(Path(poncho_core.__file__).parent, public / "poncho_core")
        python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
        out = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             python, "-c", NOBODY, str(module), str(shared)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        lock_made = (shared / ".poncho-in-use.lock").exists()
    finally:
        shutil.rmtree(public)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "built from a read-only cache\n"
    assert not lock_made


def test_a_waiting_build_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    import threading

    holder = _hold("env", tmp_path, "x.tar.gz")
    waited: list[int | None] = []
    release = threading.Timer(0.5, holder.communicate, args=("",))
    release.start()
    try:
        with EnvCache(tmp_path).building("x.tar.gz", on_wait=waited.append):
            assert (tmp_path / ".locks" / "x.tar.gz.lock").read_text() == f"{os.getpid()}\n"
    finally:
        release.join()
    assert waited == [holder.pid]
    # Free: no wait, no message.
    with EnvCache(tmp_path).building("x.tar.gz", on_wait=waited.append):
        pass
    assert waited == [holder.pid]


def test_waiting_for_another_build_has_a_deadline(tmp_path: Path) -> None:
    from poncho_create import BuildLockTimeout

    holder = _hold("env", tmp_path, "x.tar.gz")
    try:
        with (
            pytest.raises(BuildLockTimeout, match=rf"\(pid {holder.pid}\) still holds .* 0.3 s"),
            EnvCache(tmp_path).building("x.tar.gz", timeout=0.3),
        ):
            pytest.fail("the lock was taken while another process held it")
    finally:
        holder.communicate("")
    assert BuildLockTimeout.exit_status == 75

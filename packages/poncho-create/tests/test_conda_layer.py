"""The reused conda layer (issue 23 item 2): a build whose conda part did not change skips
the solve and the install, never keeps pip's work, and drops a layer pip changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from poncho_core.tarstream import open_tar
from poncho_create import CreateError, ProgressEvent, create
from poncho_create.conda_layer import LayerStore

pytestmark = pytest.mark.slow


def members(tarball: Path) -> dict[str, str]:
    """Every member's name and the sha256 of its data (links: their target)."""
    found = {}
    with open_tar(tarball) as tar:
        for member in tar:
            digest = hashlib.sha256()
            while chunk := tar.read_data(1 << 20):
                digest.update(chunk)
            found[member.name] = f"{member.type!r} {member.mode:o} {member.linkname} " + (
                digest.hexdigest()
            )
    return found


def module_text(tarball: Path, name: str) -> str | None:
    for member, data in members_data(tarball):
        if member.endswith(f"site-packages/{name}/__init__.py"):
            return data.decode()
    return None


def members_data(tarball: Path) -> list[tuple[str, bytes]]:
    out = []
    with open_tar(tarball) as tar:
        for member in tar:
            out.append((member.name, tar.read_data(member.size) if member.isreg() else b""))
    return out


class World:
    """A copy of the local channel, a package cache, an env cache and local projects."""

    def __init__(self, root: Path, channel: Any, helpers: Any, wheelhouse: Any) -> None:
        self.root = root
        self.channel = root / "channel"
        shutil.copytree(channel.path, self.channel)
        self.pkgs = root / "pkgs"
        self.cache = root / "envs"
        self.helpers = helpers
        self.wheelhouse = wheelhouse
        self.events: list[ProgressEvent] = []

    def project(self, name: str, version: str = "0.1.0") -> Path:
        return self.helpers.make_project(self.root / name, name, version)  # type: ignore[no-any-return]

    def spec(self, *pip: str, conda: tuple[str, ...] = ("python",)) -> Path:
        path = self.root / f"spec-{len(list(self.root.glob('spec-*')))}.json"
        deps: list[Any] = [*conda, {"pip": list(pip)}] if pip else list(conda)
        path.write_text(
            json.dumps({"conda": {"channels": [self.channel.as_uri()], "dependencies": deps}})
        )
        return path

    def create(self, spec: Path, **options: Any) -> Path:
        self.events.clear()
        return create(
            spec,
            cache_dir=self.cache,
            pkgs_dir=self.pkgs,
            tmp_dir=self.root / "tmp",
            no_index=True,
            find_links=[str(self.wheelhouse.path)],
            progress=self.events.append,
            **options,
        )

    def note(self) -> dict[str, Any] | None:
        """The last build's conda layer note (None: it used no layer)."""
        notes = [e.detail for e in self.events if e.detail is not None and e.phase == "layer"]
        return dict(notes[-1]) if notes else None

    def layer(self) -> dict[str, Any]:
        note = self.note()
        assert note is not None
        return note


@pytest.fixture
def world(tmp_path: Path, local_channel: Any, helpers: Any, wheelhouse: Any) -> World:
    return World(tmp_path, local_channel, helpers, wheelhouse)


def test_an_edit_of_a_local_package_reuses_the_installed_conda_part(world: World) -> None:
    world.project("proj")
    spec = world.spec("./proj")
    first = world.create(spec)
    assert world.layer() == {"key": world.layer()["key"], "reused": False, "dropped": False}
    source = world.root / "proj" / "proj" / "__init__.py"
    source.write_text("VALUE = 'edited'\n")
    # A full rebuild would need the channel and the downloaded packages: both are gone.
    world.channel.rename(world.root / "channel-gone")
    shutil.rmtree(world.pkgs)
    second = world.create(spec)
    assert second != first
    assert world.layer()["reused"] is True
    assert module_text(second, "proj") == "VALUE = 'edited'\n"
    assert module_text(first, "proj") == "VALUE = 'proj'\n"
    assert [e.phase for e in world.events if e.phase in ("solve", "install")] == []
    # Packed without the package cache (conda-pack finds the prefix in the files itself):
    # it still works where it is unpacked.
    prefix = world.helpers.unpack(second, world.root / "unpacked")
    subprocess.run([prefix / "bin" / "python", prefix / "bin" / "conda-unpack"], check=True)
    code = "import sys, proj; print(sys.prefix, proj.VALUE)"
    out = subprocess.run(
        [prefix / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [str(prefix), "edited"]


def test_the_incremental_tarball_holds_what_a_full_build_does(world: World) -> None:
    world.project("proj")
    spec = world.spec("./proj", "poncho-demo-piptop", conda=("python", "poncho-demo-app"))
    world.create(spec)
    (world.root / "proj" / "proj" / "__init__.py").write_text("VALUE = 'two'\n")
    incremental = world.create(spec)
    assert world.layer()["reused"] is True
    kept = shutil.copy(incremental, world.root / "incremental.tar.gz")
    full = world.create(spec, force=True)  # installs the layer afresh, at the same path
    assert world.layer()["reused"] is False
    assert full == incremental
    got, want = members(Path(kept)), members(full)
    assert sorted(got) == sorted(want)
    assert got == want


def test_pip_files_of_one_build_never_reach_the_next(world: World) -> None:
    world.project("projx")
    world.project("projy")
    a = world.create(world.spec("./projx", "poncho-demo-piptop"))
    key = world.layer()["key"]
    layer = LayerStore.of_cache(world.cache).path(key[:16])
    before = sorted(str(p.relative_to(layer)) for p in layer.rglob("*"))
    assert not any("projx" in p or "piptop" in p or p.startswith("poncho") for p in before)
    b = world.create(world.spec("./projy"))
    assert world.layer() == {"key": key, "reused": True, "dropped": False}
    names_a = [n for n, _ in members_data(a)]
    names_b = [n for n, _ in members_data(b)]
    assert any("/projx/" in n for n in names_a)
    assert any("/poncho_demo_piptop/" in n for n in names_a)
    assert not any("projx" in n or "piptop" in n for n in names_b)
    assert any("/projy/" in n for n in names_b)
    assert sorted(str(p.relative_to(layer)) for p in layer.rglob("*")) == before


def test_a_pip_step_that_replaces_a_conda_file_drops_the_layer(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # A distribution of another name whose module is the conda package's: pip writes over
    # conda's poncho_demo_core/__init__.py.
    clobber = world.project("poncho-demo-core")
    backend = (clobber / "backend.py").read_text()
    backend = backend.replace("'poncho-demo-core', '0.1.0'", "'clobber', '0.1.0'")
    backend = backend.replace(
        'f"{module}/__init__.py": (ROOT / module /',
        'f"poncho_demo_core/__init__.py": (ROOT / "poncho_demo_core" /',
    )
    (clobber / "backend.py").write_text(backend)
    caplog.set_level("INFO", logger="poncho_create")
    world.create(world.spec("./poncho-demo-core", conda=("python", "poncho-demo-app")))
    key = world.layer()["key"]
    assert world.layer() == {"key": key, "reused": False, "dropped": True}
    assert "dropped, the pip step changed files of the conda part" in caplog.text
    assert "site-packages/poncho_demo_core/__init__.py (changed)" in caplog.text
    store = LayerStore.of_cache(world.cache)
    assert not store.path(key[:16]).exists()
    assert store.entries() == []
    # The next build with the same conda part installs it afresh: conda's own module.
    world.project("other")
    plain = world.create(world.spec("./other", conda=("python", "poncho-demo-app")))
    assert world.layer() == {"key": key, "reused": False, "dropped": False}
    assert 'VALUE = "core"' in (module_text(plain, "poncho_demo_core") or "")
    layer = store.path(key[:16])
    assert 'VALUE = "core"' in next(layer.rglob("poncho_demo_core/__init__.py")).read_text()


def test_no_layers_builds_in_a_temporary_prefix(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONCHO_CREATE_LAYERS", "0")
    world.create(world.spec(conda=("python",)))
    assert world.note() is None
    assert not (world.cache / "layers").exists()


def test_at_most_the_given_number_of_layers_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONCHO_CREATE_LAYERS", "1")
    world.create(world.spec(conda=("poncho-demo-core",)))
    first = world.layer()["key"][:16]
    world.create(world.spec(conda=("poncho-demo-activate",)))
    second = world.layer()["key"][:16]
    assert [e.name for e in LayerStore.of_cache(world.cache).entries()] == [second]
    assert first != second


def _create_process(world: World, spec: Path, out: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "poncho_create", str(spec), str(out), "--json",
        "--cache-dir", str(world.cache), "--pkgs-dir", str(world.pkgs),
        "--no-index", "--find-links", str(world.wheelhouse.path),
    ]  # fmt: skip
    env = {**os.environ, "PONCHO_CREATE_TMPDIR": str(world.root / "tmp")}
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )


def test_two_creates_sharing_a_conda_part_at_once_both_succeed(world: World) -> None:
    world.project("projx")
    world.project("projy")
    procs = [
        _create_process(world, world.spec(f"./{p}"), world.root / f"{p}.tar.gz")
        for p in ("projx", "projy")
    ]
    results = [proc.communicate(timeout=600) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    layers = [json.loads(out)["conda_layer"] for out, _ in results]
    assert layers[0]["key"] == layers[1]["key"]
    assert sorted(layer["reused"] for layer in layers) == [False, True]
    assert not any(layer["dropped"] for layer in layers)
    for p in ("projx", "projy"):
        names = [n for n, _ in members_data(world.root / f"{p}.tar.gz")]
        assert any(f"/{p}/" in n for n in names)
        assert not any(f"/{'projy' if p == 'projx' else 'projx'}/" in n for n in names)


_SLOW_BACKEND = """
import os, pathlib, time
import backend_real
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    pathlib.Path(os.environ["STARTED"]).write_text("x")
    time.sleep(120)
    return backend_real.build_wheel(wheel_directory, config_settings, metadata_directory)
"""


def test_a_build_killed_during_its_pip_step_leaves_a_layer_the_next_build_replaces(
    world: World,
) -> None:
    world.project("proj")
    spec = world.spec("./proj")
    world.create(spec)  # the layer, installed
    key = world.layer()["key"]
    store = LayerStore.of_cache(world.cache)
    slow = world.project("slow")
    (slow / "backend.py").rename(slow / "backend_real.py")
    (slow / "backend.py").write_text(_SLOW_BACKEND)
    started = world.root / "started"
    os.environ["STARTED"] = str(started)
    try:
        proc = _create_process(world, world.spec("./slow"), world.root / "slow.tar.gz")
        deadline = time.monotonic() + 300
        while not started.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # the create and its pip
        proc.communicate()
    finally:
        del os.environ["STARTED"]
    assert (store.root / f"{key[:16]}.in-use").exists()
    (world.root / "proj" / "proj" / "__init__.py").write_text("VALUE = 'after'\n")
    after = world.create(spec)
    assert world.layer() == {"key": key, "reused": False, "dropped": False}
    assert module_text(after, "proj") == "VALUE = 'after'\n"
    assert not any("slow" in n for n, _ in members_data(after))
    assert not (store.root / f"{key[:16]}.in-use").exists()
    world.create(world.spec("./proj", "poncho-demo-piptop"))
    assert world.layer() == {"key": key, "reused": True, "dropped": False}


def test_verbose_says_which_layer_and_json_reports_it(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from poncho_create.cli import main

    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps({"conda": {"channels": [mini_channel.url], "dependencies": ["mini-tool"]}})
    )
    common = ["--json", "-v", "--cache-dir", str(tmp_path / "envs"), "--pkgs-dir", str(pkgs_dir)]
    assert main([str(spec), str(tmp_path / "a.tar.gz"), *common]) == 0
    out, err = capsys.readouterr()
    key = json.loads(out)["conda_layer"]["key"]
    assert f"conda layer {key[:12]}: installed 2 packages" in err
    # Another format: another tarball, the same conda part; its packages' last use noted.
    for package in pkgs_dir.glob("mini-*"):
        os.utime(package, (1e9, 1e9))
    assert main([str(spec), str(tmp_path / "b.tar.zst"), *common]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["conda_layer"] == {"key": key, "reused": True, "dropped": False}
    assert f"conda layer {key[:12]}: reused (2 packages, 0 installed)" in err
    assert "solving" not in err and "installing" not in err
    assert (pkgs_dir / "mini-tool-1.0-0").stat().st_mtime > 1.5e9


_HOLD = """
import sys
from pathlib import Path
from poncho_create.conda_layer import LayerStore, use_layer
with use_layer(LayerStore(Path(sys.argv[1])), sys.argv[2], lambda p: p.mkdir(), keep=2):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_build_waits_for_the_layer_at_most_create_wait_seconds(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poncho_create import BuildLockTimeout

    spec = {"conda": {"channels": [mini_channel.url], "dependencies": ["mini-base"]}}
    events: list[ProgressEvent] = []
    dirs = {"cache_dir": tmp_path / "envs", "pkgs_dir": pkgs_dir}
    create(spec, tmp_path / "a.tar.gz", progress=events.append, **dirs)
    key = next(e.detail for e in events if e.detail is not None and e.phase == "layer")["key"]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path / "envs" / "layers"), key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setenv("PONCHO_CREATE_WAIT", "0.5")
        with pytest.raises(BuildLockTimeout, match=f"pid {holder.pid}.*conda layer"):
            create(spec, tmp_path / "b.tar.zst", **dirs)
    finally:
        holder.communicate("")
    assert not (tmp_path / "b.tar.zst").exists()
    monkeypatch.setenv("PONCHO_CREATE_LAYERS", "many")
    with pytest.raises(CreateError, match=r"\$PONCHO_CREATE_LAYERS: 'many'"):
        create(spec, tmp_path / "c.tar.zst", **dirs)

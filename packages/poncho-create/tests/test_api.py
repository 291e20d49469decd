"""create(): the demo environment end to end, the cache, from-lock, and every failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_core.verbosity import NOTE
from poncho_create import (
    ChannelError,
    CreateError,
    LockError,
    PackageNotFound,
    PipError,
    ProgressEvent,
    UnsatisfiableSpec,
    create,
)
from poncho_create.local_inputs import content_digest
from poncho_spec import InvalidSpec, SpecNotFound, loads_spec

pytestmark = pytest.mark.slow


def run_env(prefix: Path, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{prefix}/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")}
    env.update(kw.pop("env", {}))
    return subprocess.run(list(argv), capture_output=True, text=True, env=env, check=True, **kw)


def test_demo_tarball_works_unpacked_elsewhere_with_the_build_moved_away(
    demo_build: Any, helpers: Any, tmp_path: Path
) -> None:
    moved = demo_build.build_prefix.parent.with_name("build-moved-away")
    demo_build.build_prefix.parent.rename(moved)
    try:
        prefix = helpers.unpack(demo_build.tarball, tmp_path / "somewhere" / "else")
        run_env(prefix, str(prefix / "bin" / "python"), str(prefix / "bin" / "conda-unpack"))
        code = (
            "import sys, poncho_demo_app, poncho_demo_core, poncho_demo_piptop, "
            "poncho_create_localproj as lp; "
            "print(sys.prefix); print(poncho_demo_piptop.BASE, lp.VALUE)"
        )
        out = run_env(prefix, "python", "-c", code).stdout.split("\n")
        assert out[0] == str(prefix)
        assert out[1] == "pipbase poncho-create-localproj"
        assert "poncho-demo-app" in run_env(prefix, "poncho-demo-app").stdout
        assert "poncho-demo-piptop on pipbase" in run_env(prefix, "poncho-demo-piptop").stdout
        assert str(demo_build.build_prefix) not in (prefix / "bin" / "poncho-demo-app").read_text()
    finally:
        moved.rename(demo_build.build_prefix.parent)


def test_run_in_env_activates_unpacks_once_and_execs(
    demo_build: Any, helpers: Any, tmp_path: Path
) -> None:
    prefix = helpers.unpack(demo_build.tarball, tmp_path / "env")
    script = prefix / "bin" / "run_in_env"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent", "PYTHONHOME": "/nope"}
    shell = (
        'echo "$CONDA_PREFIX|$CONDA_DEFAULT_ENV|$PONCHO_DEMO_ACTIVATED|${PYTHONPATH-unset}"; '
        "poncho-demo-app; python -c 'import poncho_demo_piptop'"
    )
    first = subprocess.run(
        [str(script), "sh", "-c", shell], capture_output=True, text=True, env=env, check=True
    )
    lines = first.stdout.splitlines()
    assert lines[0] == f"{prefix}|{prefix}|yes|unset"
    assert "poncho-demo-app" in lines[1]
    assert (prefix / "poncho" / ".unpacked").exists()
    assert not (prefix / "poncho" / ".unpack.lock").exists()
    # Second run: conda-unpack is not run again (we make it fail to prove it).
    (prefix / "bin" / "conda-unpack").write_text("#!/bin/sh\nexit 3\n")
    again = subprocess.run([str(script), "true"], env=env, check=False)
    assert again.returncode == 0
    # And the exit status of the command is the script's.
    assert subprocess.run([str(script), "sh", "-c", "exit 7"], env=env).returncode == 7


def test_tarball_carries_spec_lock_and_run_in_env(demo_build: Any) -> None:
    names, files, modes = set(), {}, {}
    # One pass over the stream, as tarfile's stream mode reads it (one gzip stream: every
    # member of the indexed layout is seen, the index last).
    with tarfile.open(demo_build.tarball, "r|gz") as tar:
        for member in tar:
            names.add(member.name)
            modes[member.name] = member.mode
            if member.name in ("poncho/spec.json", "poncho/lock.json"):
                files[member.name] = json.load(tar.extractfile(member))  # type: ignore[arg-type]
    spec, lock = files["poncho/spec.json"], files["poncho/lock.json"]
    assert {"bin/conda-unpack", "bin/python", "conda-meta/history", "poncho/index.json"} <= names
    assert not any(n == "CACHEDIR.TAG" for n in names)
    assert modes["bin/run_in_env"] & 0o111
    assert spec == loads_spec(json.dumps(demo_build.spec)).to_dict()
    assert lock == json.loads(demo_build.lock_out.read_text())
    assert lock["spec_hash"] == loads_spec(json.dumps(demo_build.spec)).hash()
    conda = {p["name"]: p for p in lock["conda"]}
    assert {"python", "pip", "poncho-demo-app", "poncho-demo-core"} <= set(conda)
    assert all(p["url"].startswith("file://") and len(p["sha256"]) == 64 for p in conda.values())
    pip = {p["name"]: p for p in lock["pip"]}
    assert pip["poncho-demo-piptop"]["source"] == "index"
    assert pip["poncho-demo-piptop"]["url"].startswith("file:///")
    assert pip["poncho-demo-piptop"]["url"].endswith("/poncho_demo_piptop-0.1.0-py3-none-any.whl")
    assert pip["poncho-demo-pipbase"]["version"] == "0.1.0"
    assert pip["poncho-create-localproj"] == {
        "name": "poncho-create-localproj",
        "version": "0.2.0",
        "sha256": content_digest(demo_build.spec_path.parent / "localproj"),
        "source": "path",
        "url": pip["poncho-create-localproj"]["url"],
    }
    assert pip["poncho-create-localproj"]["url"].endswith("/localproj")
    assert oct(demo_build.tarball.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_progress_reports_every_phase_in_order(demo_build: Any) -> None:
    finished = [e.phase for e in demo_build.events if e.finished and e.detail is None]
    assert finished.index("solve") < finished.index("install") < finished.index("pip")
    assert finished[-1] == "pack"
    download = next(e for e in demo_build.events if e.phase == "download" and e.finished)
    assert download.unit == "bytes" and download.total and download.done == download.total
    pack = [e for e in demo_build.events if e.phase == "pack"]
    assert pack[0].done == 0 and pack[-1].done == pack[-1].total > 0


def test_kept_prefix_is_the_built_environment(demo_build: Any) -> None:
    prefix = demo_build.build_prefix
    assert (prefix / "conda-meta").is_dir() and (prefix / "poncho" / "lock.json").is_file()


def test_cache_hit_returns_the_same_file_without_building(demo_build: Any) -> None:
    before = demo_build.tarball.stat()
    events: list[ProgressEvent] = []
    again = create(demo_build.spec_path, progress=events.append, **demo_build.options)
    assert again == demo_build.tarball
    assert [e.phase for e in events] == ["cache"]
    assert again.stat().st_mtime_ns == before.st_mtime_ns
    name = again.name
    assert name.startswith(loads_spec(json.dumps(demo_build.spec)).hash() + "-linux-64-")
    assert name.endswith(".tar.gz")  # digest: the pip index options are part of the key


def test_from_lock_rebuilds_the_same_environment(demo_build: Any, tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    out = create(
        demo_build.spec_path,
        tmp_path / "again.tar.zst",
        from_lock=demo_build.lock_out,
        lock_out=tmp_path / "again.lock.json",
        progress=events.append,
        **demo_build.options,
    )
    assert out == tmp_path / "again.tar.zst"
    assert (tmp_path / "again.lock.json").read_text() == demo_build.lock_out.read_text()
    assert "solve" not in {e.phase for e in events}
    assert out.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd magic


def test_from_lock_rebuilds_from_the_package_cache_with_the_channel_gone(
    mini_channel: Any, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    shutil.copytree(mini_channel.path, channel)
    dirs = {"cache_dir": tmp_path / "envs", "pkgs_dir": tmp_path / "pkgs", "tmp_dir": tmp_path}
    spec = {"conda": {"channels": [channel.as_uri()], "dependencies": ["mini-tool"]}}
    create(spec, tmp_path / "first.tar.gz", lock_out=tmp_path / "lock.json", **dirs)
    shutil.rmtree(channel)  # as on an air-gapped node whose package cache is filled

    out = create(spec, tmp_path / "again.tar.gz", from_lock=tmp_path / "lock.json",
                 lock_out=tmp_path / "again.json", **dirs)  # fmt: skip
    assert (tmp_path / "again.json").read_text() == (tmp_path / "lock.json").read_text()
    with tarfile.open(out) as tar:
        assert "bin/mini-tool" in tar.getnames()
    with pytest.raises(ChannelError, match=r"\(from the spec\) is not there"):  # solving needs it
        create(spec, tmp_path / "solved.tar.gz", force=True, **dirs)
    assert not (tmp_path / "solved.tar.gz").exists()


def test_from_lock_fails_when_a_locked_package_is_gone(
    demo_build: Any, tmp_path: Path, build_dirs: dict[str, Any]
) -> None:
    lock = json.loads(demo_build.lock_out.read_text())
    lock["conda"][0]["url"] = lock["conda"][0]["url"].replace(".conda", "-gone.conda")
    bad = tmp_path / "bad.lock.json"
    bad.write_text(json.dumps(lock))
    with pytest.raises(LockError, match="no longer available"):
        create(demo_build.spec_path, tmp_path / "x.tar.gz", from_lock=bad, **build_dirs)
    lock["platform"] = "osx-arm64"
    bad.write_text(json.dumps(lock))
    with pytest.raises(CreateError, match="the lock is for osx-arm64"):
        create(demo_build.spec_path, tmp_path / "x.tar.gz", from_lock=bad, platform="linux-64")
    assert not (tmp_path / "x.tar.gz").exists()


# --- failures: clear error, nothing left behind -------------------------------------------


def _previous_tarball(path: Path) -> bytes:
    """An environment tarball of an earlier build at `path` (create replaces it only whole)."""
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("conda-meta/history"))
    return path.read_bytes()


def _assert_nothing_left(build_dirs: dict[str, Any], output: Path, original: bytes) -> None:
    assert output.read_bytes() == original
    assert not [p for p in output.parent.iterdir() if p.name.endswith(".part")]
    cache = build_dirs["cache_dir"]
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")] if cache.exists() else []
    # A conda layer whose install succeeded is kept, restored as installed (the next try
    # reuses it): complete, its metadata written, not in use.
    layers = cache / "layers"
    if layers in entries:
        entries.remove(layers)
        folders = sorted(p.name for p in layers.iterdir() if p.is_dir())
        assert sorted(p.name for p in layers.iterdir()) == sorted(
            [*folders, *(f"{name}.json" for name in folders)]
        )
    assert entries == []
    assert list(build_dirs["tmp_dir"].iterdir()) == []


@pytest.mark.parametrize(
    ("deps", "error", "words"),
    [
        (["mini-tool", "mini-old"], UnsatisfiableSpec, ["mini-tool", "mini-old", "mini-base"]),
        (["mini-base>=99"], UnsatisfiableSpec, ["mini-base", ">=99", "1.0, 2.0"]),
        (["no-such-package"], PackageNotFound, ["no-such-package", "does not exist"]),
    ],
)
def test_solver_failures_name_the_packages(
    mini_channel: Any,
    helpers: Any,
    build_dirs: dict[str, Any],
    tmp_path: Path,
    deps: list[str],
    error: type[Exception],
    words: list[str],
) -> None:
    output = tmp_path / "out.tar.gz"
    original = _previous_tarball(output)
    with pytest.raises(error) as info:
        create(helpers.mini_spec(mini_channel, *deps), output, **build_dirs)
    for word in words:
        assert word in str(info.value)
    _assert_nothing_left(build_dirs, output, original)
    # The same through the cache: no entry appears.
    with pytest.raises(error):
        create(helpers.mini_spec(mini_channel, *deps), **build_dirs)
    _assert_nothing_left(build_dirs, output, original)


def test_missing_and_unreachable_channels_are_named(
    mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path, free_port: int
) -> None:
    output = tmp_path / "out.tar.gz"
    original = _previous_tarball(output)
    missing = (tmp_path / "nonexistent-channel").as_uri()
    spec = {"conda": {"channels": [missing], "dependencies": ["mini-tool"]}}
    with pytest.raises(ChannelError, match=f"channel {missing} .from the spec. is not there"):
        create(spec, output, **build_dirs)
    closed = f"http://127.0.0.1:{free_port}/conda-channel"
    spec = {"conda": {"channels": [mini_channel.url, closed], "dependencies": ["mini-tool"]}}
    with pytest.raises(ChannelError, match=f"channel {closed} .from the spec. is unreachable"):
        create(spec, output, **build_dirs)
    _assert_nothing_left(build_dirs, output, original)


def test_pip_failure_shows_the_tail_of_pips_output(
    local_channel: Any, wheelhouse: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "out.tar.gz"
    original = _previous_tarball(output)
    spec = {
        "conda": {
            "channels": [local_channel.url],
            "dependencies": ["python", {"pip": ["poncho-no-such-dist-anywhere"]}],
        }
    }
    with pytest.raises(PipError) as info:
        create(spec, output, no_index=True, find_links=[str(wheelhouse.path)], **build_dirs)
    message = str(info.value)
    assert "poncho-no-such-dist-anywhere" in message
    assert "not installed in the current environment" in message
    assert "No matching distribution found for poncho-no-such-dist-anywhere" in message
    _assert_nothing_left(build_dirs, output, original)


def test_spec_errors_are_poncho_specs(tmp_path: Path, build_dirs: dict[str, Any]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"conda": {"dependencies": ["numpy>>1"]}}')
    with pytest.raises(InvalidSpec, match="numpy>>1"):
        create(bad, tmp_path / "out.tar.gz", **build_dirs)
    with pytest.raises(SpecNotFound):
        create(tmp_path / "missing.json", **build_dirs)
    assert not (tmp_path / "out.tar.gz").exists()
    assert list(build_dirs["tmp_dir"].iterdir()) == []


def test_foreign_platform_is_solved_for_that_platform(
    helpers: Any, mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    out = create(helpers.mini_spec(mini_channel), platform="osx-arm64", **build_dirs)
    assert "-osx-arm64" in out.name
    with tarfile.open(out) as tar:
        lock = json.load(tar.extractfile("poncho/lock.json"))  # type: ignore[arg-type]
    assert lock["platform"] == "osx-arm64"


def test_keep_prefix_must_be_new_or_empty(
    helpers: Any, mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(CreateError, match="must be a new or empty folder"):
        create(helpers.mini_spec(mini_channel), tmp_path / "o.tar", keep_prefix=busy, **build_dirs)
    empty = tmp_path / "empty"
    empty.mkdir()
    create(helpers.mini_spec(mini_channel), tmp_path / "o.tar", keep_prefix=empty, **build_dirs)
    assert (empty / "bin" / "mini-tool").exists()
    assert list(build_dirs["tmp_dir"].iterdir()) == []


def test_extra_channels_change_the_cache_name(
    helpers: Any, mini_channel: Any, build_dirs: dict[str, Any]
) -> None:
    spec = helpers.mini_spec(mini_channel)
    plain = create(spec, threads=1, **build_dirs)
    assert plain.name.endswith("-linux-64.tar.gz")
    other = create(spec, channels=[mini_channel.url + "/"], **build_dirs)
    assert other != plain and other.name.endswith(".tar.gz")
    assert create(spec, **build_dirs) == plain


def test_a_spec_object_and_a_dict_are_accepted(
    helpers: Any, mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec = loads_spec(json.dumps(helpers.mini_spec(mini_channel)))
    assert create(spec, **build_dirs) == create(spec.to_dict(), **build_dirs)


def test_an_unwritable_cache_still_builds_into_output(
    helpers: Any,
    mini_channel: Any,
    tmp_path: Path,
    pkgs_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A read-only home (some clusters): with OUTPUT the build goes there, with a warning."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    out = tmp_path / "env.tar.gz"
    spec = helpers.mini_spec(mini_channel)
    assert create(spec, out, cache_dir=blocked / "envs", pkgs_dir=pkgs_dir) == out
    assert tarfile.is_tarfile(out) and blocked.is_file()
    assert "cannot be written: building into" in caplog.text
    with pytest.raises(CreateError, match="--cache-dir"):  # without OUTPUT it is needed
        create(spec, cache_dir=blocked / "envs", pkgs_dir=pkgs_dir)


def test_env_variables_choose_the_folders(
    helpers: Any, mini_channel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pkgs_dir: Path
) -> None:
    monkeypatch.setenv("PONCHO_ENVS_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("PONCHO_PKGS_DIR", str(pkgs_dir))
    monkeypatch.setenv("PONCHO_CREATE_TMPDIR", str(tmp_path / "tmp-from-env"))
    out = create(helpers.mini_spec(mini_channel))
    assert out.parent == tmp_path / "from-env"
    assert (tmp_path / "tmp-from-env").is_dir()
    assert list((tmp_path / "tmp-from-env").iterdir()) == []
    shutil.rmtree(tmp_path / "from-env")


def test_the_env_cache_is_the_users_from_any_folder(
    helpers: Any, mini_channel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pkgs_dir: Path
) -> None:
    """F8: not ./envs of the current folder; the same entry from another folder is a hit."""
    monkeypatch.delenv("PONCHO_ENVS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    spec = helpers.mini_spec(mini_channel)
    monkeypatch.chdir(tmp_path / "a")
    first = create(spec, pkgs_dir=pkgs_dir, tmp_dir=tmp_path / "tmp")
    assert first.parent == tmp_path / "xdg" / "poncho" / "envs" and first.is_absolute()
    monkeypatch.chdir(tmp_path / "b")
    events: list[ProgressEvent] = []
    assert create(spec, pkgs_dir=pkgs_dir, progress=events.append) == first
    assert {e.phase for e in events} == {"cache"}
    assert not (tmp_path / "a" / "envs").exists() and not (tmp_path / "b" / "envs").exists()


def test_from_lock_takes_the_locks_platform_and_refuses_another_specs_lock(
    helpers: Any, mini_channel: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    lock_file = tmp_path / "lock.json"
    spec = helpers.mini_spec(mini_channel)
    create(spec, tmp_path / "a.tar", platform="osx-64", lock_out=lock_file, **build_dirs)
    out = create(spec, from_lock=lock_file, lock_out=tmp_path / "b.json", **build_dirs)
    assert "-osx-64-" in out.name
    relocked = json.loads((tmp_path / "b.json").read_text())
    assert [p["name"] for p in relocked["conda"]] == ["mini-base", "mini-tool"]
    # The lock of another spec would build something that satisfies neither.
    other = helpers.mini_spec(mini_channel, "mini-base")
    with pytest.raises(CreateError, match=r"lock.json: this lock was made from another spec"):
        create(other, tmp_path / "c.tar", from_lock=lock_file, **build_dirs)
    assert not (tmp_path / "c.tar").exists()


@pytest.mark.slow
def test_an_edited_local_pip_path_is_built_again_not_served_from_the_cache(
    demo_build: Any, tmp_path: Path
) -> None:
    """{"pip": ["./localproj"]}: the cache key covers the source tree, not only the spec."""
    project = demo_build.spec_path.parent / "localproj"
    module = project / "poncho_create_localproj" / "__init__.py"
    options = {**demo_build.options, "cache_dir": tmp_path / "envs"}
    first = create(demo_build.spec_path, **options)
    assert create(demo_build.spec_path, **options) == first  # unchanged: a cache hit
    original = module.read_text()
    try:
        module.write_text("VALUE = 'edited'\n")
        second = create(demo_build.spec_path, **options)
    finally:
        module.write_text(original)
    assert second != first
    with tarfile.open(second) as tar:
        member = next(m for m in tar if m.name.endswith("poncho_create_localproj/__init__.py"))
        assert tar.extractfile(member).read() == b"VALUE = 'edited'\n"  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_project_folder_holding_our_outputs_still_hits_the_cache(
    local_channel: Any, helpers: Any, tmp_path: Path, pkgs_dir: Path
) -> None:
    """Seams 12: {"pip": ["."]} from the project's own folder, whose OUTPUT and env cache
    land in that folder: the second create is a cache hit, not a new build."""
    project = helpers.make_project(tmp_path / "proj", "poncho-create-selfproj")
    spec = {"conda": {"channels": [local_channel.url], "dependencies": ["python", {"pip": ["."]}]}}
    (project / "spec.json").write_text(json.dumps(spec))
    dirs = {"cache_dir": project / "envs", "pkgs_dir": pkgs_dir, "tmp_dir": tmp_path / "tmp"}
    create(project / "spec.json", project / "env.tar.gz", no_index=True, **dirs)
    for output in (project / "env.tar.gz", project / "other.tar.gz", None):
        events: list[ProgressEvent] = []
        create(project / "spec.json", output, no_index=True, progress=events.append, **dirs)
        assert {e.phase for e in events} == {"cache"}, output
    entries = [
        p.name
        for p in (project / "envs").iterdir()
        if not p.name.startswith(".") and p.name != "layers"
    ]
    assert len(entries) == 1


def test_pinned_holds_versions_and_is_written_to_conda_meta(
    mini_channel: Any, helpers: Any, build_dirs: dict[str, Any], tmp_path: Path
) -> None:
    spec = {
        **helpers.mini_spec(mini_channel, "mini-base"),
        "pinned": {"conda": {"mini-base": "1.*"}},
    }
    create(spec, tmp_path / "env.tar", keep_prefix=tmp_path / "kept", **build_dirs)
    installed = {p.name for p in (tmp_path / "kept" / "conda-meta").glob("*.json")}
    assert installed == {"mini-base-1.0-0.json"}  # 2.0 is newer, the pin holds 1
    assert (tmp_path / "kept" / "conda-meta" / "pinned").read_text() == "mini-base 1.*\n"
    with tarfile.open(tmp_path / "env.tar") as tar:
        assert tar.extractfile("conda-meta/pinned").read() == b"mini-base 1.*\n"  # type: ignore[union-attr]
    # A pin constrains, it does not install: mini-old is pinned but not asked for.
    spec = {
        **helpers.mini_spec(mini_channel, "mini-tool"),
        "pinned": {"conda": {"mini-old": "1.0"}},
    }
    create(spec, tmp_path / "tool.tar", keep_prefix=tmp_path / "tool", **build_dirs)
    names = {p.name.rsplit("-", 2)[0] for p in (tmp_path / "tool" / "conda-meta").glob("*.json")}
    assert names == {"mini-tool", "mini-base"}
    # And a pin that contradicts a dependency cannot be solved.
    spec = {
        **helpers.mini_spec(mini_channel, "mini-tool"),
        "pinned": {"conda": {"mini-base": "1.*"}},
    }
    with pytest.raises(UnsatisfiableSpec):
        create(spec, tmp_path / "never.tar", **build_dirs)


def test_requirements_and_environment_files_are_specs(
    local_channel: Any, wheelhouse: Any, build_dirs: dict[str, Any], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(NOTE, logger="poncho_create")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--index-url https://pypi.example.org/simple\nponcho-demo-piptop\n")
    options = {**build_dirs, "no_index": True, "find_links": [str(wheelhouse.path)]}
    out = create(requirements, tmp_path / "req.tar", channels=[local_channel.url],
                 override_channels=True, **options)  # fmt: skip
    assert "line 1: --index-url: give it to poncho_package_create --pip-index-url" in caplog.text
    with tarfile.open(out) as tar:
        spec = json.loads(tar.extractfile("poncho/spec.json").read())  # type: ignore[union-attr]
        names = tar.getnames()
    assert spec["conda"]["dependencies"][-1] == {"pip": ["poncho-demo-piptop"]}
    assert any("poncho_demo_piptop" in n for n in names)
    environment = tmp_path / "environment.yml"
    environment.write_text(
        f"name: demo\nchannels: [{local_channel.url}]\ndependencies:\n  - poncho-demo-core\n"
    )
    out = create(environment, tmp_path / "env.tar", **build_dirs)
    with tarfile.open(out) as tar:
        assert any(n.startswith("conda-meta/poncho-demo-core-") for n in tar.getnames())
    # Notes, as poncho_spec import says them (F15: they were warnings here), hidden by -q.
    notes = [r for r in caplog.records if "not part of the environment's content" in r.msg % r.args]
    assert notes and all(r.levelno == NOTE for r in notes)

"""The local channel is a real conda channel: rattler solves and installs from it, and the
installed python runs, also after the prefix is moved and the original interpreter hidden."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rattler.package import IndexJson, PathsJson

from poncho_testing import LocalChannel, build_channel, install_prefix, solve
from poncho_testing._cache import COMPLETE_MARKER, cache_root
from poncho_testing._interpreter import probe_interpreter
from poncho_testing.envs import default_pkgs_dir
from poncho_testing.isolation import can_hide_paths, hide_paths_argv

SPECS = ["python", "pip", "poncho-demo-app", "poncho-demo-activate"]


@pytest.fixture(scope="module")
def installed(local_channel: LocalChannel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("installed")
    prefix = work / "prefix with space"
    install_prefix(local_channel, SPECS, prefix)
    return prefix


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_channel_describes_itself(local_channel: LocalChannel) -> None:
    assert local_channel.url == local_channel.path.as_uri()
    assert local_channel.url.startswith("file:///")
    assert local_channel.python_version == platform.python_version()
    assert set(local_channel.packages) == {
        "python",
        "pip",
        "poncho-demo-core",
        "poncho-demo-app",
        "poncho-demo-activate",
    }
    assert local_channel.packages["python"] == platform.python_version()
    noarch = json.loads((local_channel.path / "noarch" / "repodata.json").read_text())
    names = {rec["name"] for rec in noarch["packages.conda"].values()}
    assert names == set(local_channel.packages) - {"python"}
    arch = json.loads((local_channel.path / local_channel.subdir / "repodata.json").read_text())
    (python_rec,) = arch["packages.conda"].values()
    assert python_rec["depends"] == []
    assert python_rec["version"] == platform.python_version()


def test_packages_read_back_with_rattler(local_channel: LocalChannel) -> None:
    app = next((local_channel.path / "noarch").glob("poncho-demo-app-*.conda"))
    index = IndexJson.from_package_archive(app)
    assert str(index.noarch) == 'NoArchType("python")' or index.noarch.python
    assert "poncho-demo-core >=0.1.0" in index.depends
    (python_pkg,) = (local_channel.path / local_channel.subdir).glob("python-*.conda")
    paths = PathsJson.from_package_archive(python_pkg)
    by_path = {str(p.relative_path): p for p in paths.paths}
    short = ".".join(platform.python_version_tuple()[:2])
    assert f"lib/python{short}/os.py" in by_path
    assert not any("/site-packages/" in p and "README" not in p for p in by_path)
    assert not any(p.endswith(".a") or "opt-" in p for p in by_path)
    tag = sys.implementation.cache_tag
    assert f"lib/python{short}/__pycache__/os.{tag}.pyc" in by_path
    placeholders = {p for p, e in by_path.items() if e.prefix_placeholder is not None}
    assert any("_sysconfigdata" in p for p in placeholders)
    assert f"bin/python{short}-config" in placeholders
    # ELF files are made relocatable with patchelf, never by prefix replacement.
    assert f"bin/python{short}" not in placeholders
    assert not any(".so" in p for p in placeholders)


def test_solve_pulls_in_dependencies(local_channel: LocalChannel) -> None:
    records = solve(local_channel, ["poncho-demo-app"])
    names = {r.name.normalized for r in records}
    assert names == {"poncho-demo-app", "poncho-demo-core", "python"}
    assert all(r.url.startswith(local_channel.url) for r in records)


def test_installed_env_runs(installed: Path) -> None:
    python = installed / "bin" / "python"
    code = (
        "import sys, ssl, sqlite3, ctypes, poncho_demo_app;"
        "print(sys.prefix); print(poncho_demo_app.greet('x'))"
    )
    out = run([str(python), "-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(installed), "hello x from poncho-demo-core (core)"]
    app = run([str(installed / "bin" / "poncho-demo-app"), "bob"])
    assert app.returncode == 0, app.stderr
    assert "poncho-demo-app" in app.stdout and "bob" in app.stdout
    pip = run([str(installed / "bin" / "pip"), "--version"])
    assert pip.returncode == 0, pip.stderr
    assert str(installed) in pip.stdout
    meta = run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('poncho-demo-app'))"]
    )
    assert meta.stdout.strip() == "0.1.0"
    script = installed / "etc" / "conda" / "activate.d" / "poncho-demo-activate.sh"
    sourced = run(["sh", "-c", '. "$1"; echo "$PONCHO_DEMO_ACTIVATED"', "sh", str(script)])
    assert sourced.stdout.strip() == "yes"


def test_text_placeholders_point_to_the_install_prefix(installed: Path) -> None:
    short = ".".join(platform.python_version_tuple()[:2])
    (sysconfigdata,) = (installed / "lib" / f"python{short}").glob("_sysconfigdata_*.py")
    text = sysconfigdata.read_text()
    assert f"'prefix': '{installed}'" in text
    assert str(probe_interpreter(sys.executable).base_prefix) not in text


LIBPYTHON_PROBE = textwrap.dedent(
    """\
    import sys, ssl, json, poncho_demo_app
    maps = [l.split()[-1] for l in open("/proc/self/maps") if "libpython" in l]
    print(json.dumps({"prefix": sys.prefix, "libpython": sorted(set(maps))}))
    """
)


def _move_installed_prefix(local_channel: LocalChannel, tmp_path: Path) -> tuple[Path, Path]:
    original = tmp_path / "original"
    install_prefix(local_channel, ["python", "poncho-demo-app"], original)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    original.rename(moved)
    return original, moved


def _check_moved_prefix(moved: Path, out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["prefix"] == str(moved)
    assert info["libpython"] and all(p.startswith(f"{moved}/lib/") for p in info["libpython"])
    # The entry point's shebang still names the old prefix; through the python it runs.
    app = run([str(moved / "bin" / "python"), str(moved / "bin" / "poncho-demo-app"), "moved"])
    assert app.returncode == 0 and "moved" in app.stdout
    mod = run([str(moved / "bin" / "python"), "-m", "poncho_demo_app", "m"])
    assert mod.stdout.startswith("poncho-demo-app: hello m")


def test_moved_prefix_runs_and_loads_its_own_libpython(
    local_channel: LocalChannel, tmp_path: Path
) -> None:
    _, moved = _move_installed_prefix(local_channel, tmp_path)
    _check_moved_prefix(moved, run([str(moved / "bin" / "python"), "-c", LIBPYTHON_PROBE]))


@pytest.mark.skipif(
    not can_hide_paths(),
    reason="cannot hide paths here (no unprivileged `unshare -m`): the relocation proof needs it",
)
def test_moved_prefix_runs_with_the_original_interpreter_hidden(
    local_channel: LocalChannel, tmp_path: Path
) -> None:
    original, moved = _move_installed_prefix(local_channel, tmp_path)
    base = probe_interpreter(sys.executable).base_prefix
    original.mkdir()  # something to mount the empty tmpfs on
    hidden = run(hide_paths_argv([base], ["ls", "-A", str(base)]))
    assert hidden.returncode == 0 and hidden.stdout == ""
    # Hide the interpreter, the old location and the package cache the files came from.
    argv = [str(moved / "bin" / "python"), "-c", LIBPYTHON_PROBE]
    argv = hide_paths_argv([base, original, default_pkgs_dir(local_channel)], argv)
    _check_moved_prefix(moved, run(argv))


def test_cached_channel_is_reused(local_channel: LocalChannel) -> None:
    again = build_channel()
    assert again == local_channel
    assert (local_channel.path / COMPLETE_MARKER).exists()
    assert local_channel.path.parent == cache_root().resolve()


def _interpreter_to_package() -> str:
    """Another shared-library python3.1x if there is one (proves any version works), else ours."""
    this = probe_interpreter(sys.executable)
    for short in ("3.10", "3.13", "3.11", "3.12"):
        found = shutil.which(f"python{short}")
        if found is None or short == this.short_version:
            continue
        other = probe_interpreter(found)
        if other.shared and other.base_prefix.parent == this.base_prefix.parent:
            return found
    return sys.executable


@pytest.mark.slow
def test_fresh_channel_build(tmp_path: Path) -> None:
    # The session's local_channel may come from an earlier run's cache: this builds anew.
    python = _interpreter_to_package()
    channel = build_channel(tmp_path / "channel", python=python)
    version = probe_interpreter(python).version
    assert channel.python_version == version
    assert channel.path == (tmp_path / "channel").resolve()
    assert not (channel.path / ".tmp").exists()
    prefix = tmp_path / "prefix"
    install_prefix(channel, ["python", "poncho-demo-app"], prefix, pkgs_dir=tmp_path / "pkgs")
    code = "import platform, poncho_demo_app; print(platform.python_version())"
    out = run([str(prefix / "bin" / "python"), "-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == version


def test_channel_has_a_stand_in_python_for_aarch64(
    local_channel: LocalChannel, tmp_path: Path
) -> None:
    from rattler import Subdir

    from poncho_testing import EM_AARCH64, elf_machine
    from poncho_testing._aio import run_sync

    version = local_channel.foreign_pythons["linux-aarch64"]
    assert version.split(".")[:2] != local_channel.python_version.split(".")[:2]
    arch = json.loads((local_channel.path / "linux-aarch64" / "repodata.json").read_text())
    (record,) = arch["packages.conda"].values()
    assert (record["name"], record["version"], record["subdir"]) == (
        "python",
        version,
        "linux-aarch64",
    )
    import rattler

    records = run_sync(
        rattler.solve(
            sources=[rattler.Channel(local_channel.url)],
            specs=["python", "pip"],
            platforms=[Subdir("linux-aarch64"), Subdir("noarch")],
            gateway=rattler.Gateway(cache_dir=tmp_path / "gw"),
        )
    )
    prefix = tmp_path / "env"
    run_sync(
        rattler.install(
            records,
            prefix,
            cache_dir=tmp_path / "pkgs",
            platform=Subdir("linux-aarch64"),
            show_progress=False,
        )
    )
    short = ".".join(version.split(".")[:2])
    assert elf_machine(prefix / "bin" / "python") == EM_AARCH64
    assert (prefix / "lib" / f"python{short}" / "os.py").is_file()
    assert (prefix / "lib" / f"python{short}" / "site-packages" / "pip").is_dir()


def test_stand_in_python_version_differs_from_the_host(tmp_path: Path) -> None:
    from poncho_testing._foreign_python import (
        build_foreign_python_package,
        foreign_python_version,
    )

    assert foreign_python_version("3.13.0") == "3.11.9"
    assert foreign_python_version("3.11.7") == "3.12.7"
    with pytest.raises(ValueError, match="no stand-in python for osx-arm64"):
        build_foreign_python_package("osx-arm64", "3.11.9", tmp_path)

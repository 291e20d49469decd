"""Shared fixtures: a tiny generic conda channel, a local pip project, the demo build.

The demo environment (python, a noarch package with a dependency and an entry point, an
activation script, a pip wheel with a dependency and a local pip project) is built once per
session and reused by every test that only looks at it.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from poncho_create import ProgressEvent, create

# --- a tiny channel of "generic" noarch packages: fast builds with no python -------------

MINI_PACKAGES = [
    # name, version, depends, files
    ("mini-base", "1.0", [], {"share/mini/base.txt": b"base 1\n"}),
    ("mini-base", "2.0", [], {"share/mini/base.txt": b"base 2\n"}),
    (
        "mini-tool",
        "1.0",
        ["mini-base >=2"],
        {"bin/mini-tool": b"#!/bin/sh\necho mini-tool says hello\n"},
    ),
    ("mini-old", "1.0", ["mini-base <2"], {"share/mini/old.txt": b"old\n"}),
]


def _index(name: str, version: str, depends: list[str]) -> dict[str, object]:
    """The info/index.json of a mini package (also the core of its repodata record)."""
    return {
        "name": name,
        "version": version,
        "build": "0",
        "build_number": 0,
        "depends": depends,
        "noarch": "generic",
        "subdir": "noarch",
        "license": "MIT",
        "timestamp": 1700000000000,
    }


def _generic_package(name: str, version: str, depends: list[str], files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:

        def add(path: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        add("info/index.json", json.dumps(_index(name, version, depends)).encode())
        paths = []
        for path, data in files.items():
            add(path, data, 0o755 if path.startswith("bin/") else 0o644)
            paths.append(
                {
                    "_path": path,
                    "path_type": "hardlink",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size_in_bytes": len(data),
                }
            )
        add("info/paths.json", json.dumps({"paths": paths, "paths_version": 1}).encode())
    return buf.getvalue()


@dataclass(frozen=True)
class MiniChannel:
    path: Path

    @property
    def url(self) -> str:
        return self.path.as_uri()


@pytest.fixture(scope="session")
def mini_channel(tmp_path_factory: pytest.TempPathFactory) -> MiniChannel:
    """A real conda channel (hand-written repodata) of small generic packages."""
    root = tmp_path_factory.mktemp("mini-channel")
    noarch = root / "noarch"
    noarch.mkdir()
    (root / "linux-64").mkdir()
    records = {}
    for name, version, depends, files in MINI_PACKAGES:
        data = _generic_package(name, version, depends, files)
        filename = f"{name}-{version}-0.tar.bz2"
        (noarch / filename).write_bytes(data)
        records[filename] = {
            **_index(name, version, depends),
            "sha256": hashlib.sha256(data).hexdigest(),
            "md5": hashlib.md5(data).hexdigest(),
            "size": len(data),
        }
    for subdir, packages in (("noarch", records), ("linux-64", {})):
        repodata = {"info": {"subdir": subdir}, "packages": packages, "packages.conda": {}}
        (root / subdir / "repodata.json").write_text(json.dumps(repodata))
    return MiniChannel(root)


def mini_spec(channel: MiniChannel, *deps: str) -> dict[str, Any]:
    return {"conda": {"channels": [channel.url], "dependencies": list(deps or ["mini-tool"])}}


@pytest.fixture(scope="session")
def pkgs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One package download cache for the whole session."""
    return tmp_path_factory.mktemp("pkgs")


@pytest.fixture
def build_dirs(tmp_path: Path, pkgs_dir: Path) -> dict[str, Any]:
    """Folders for one create() call whose leftovers the test can inspect."""
    dirs = {"cache_dir": tmp_path / "envs", "tmp_dir": tmp_path / "tmp", "pkgs_dir": pkgs_dir}
    dirs["tmp_dir"].mkdir()
    return dirs


# --- a local pip project with an in-tree build backend (builds offline) -------------------

_BACKEND = """\
import base64, hashlib, pathlib, zipfile

NAME, VERSION, REQUIRES = {name!r}, {version!r}, {requires!r}
ROOT = pathlib.Path(__file__).resolve().parent


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    module = NAME.replace("-", "_")
    dist = f"{{module}}-{{VERSION}}.dist-info"
    files = {{f"{{module}}/__init__.py": (ROOT / module / "__init__.py").read_bytes()}}
    metadata = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
    metadata += "".join(f"Requires-Dist: {{r}}\\n" for r in REQUIRES)
    files[f"{{dist}}/METADATA"] = metadata.encode()
    wheel = "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[f"{{dist}}/WHEEL"] = wheel.encode()
    record = "".join(f"{{p}},{{_digest(d)}},{{len(d)}}\\n" for p, d in files.items())
    files[f"{{dist}}/RECORD"] = (record + f"{{dist}}/RECORD,,\\n").encode()
    name = f"{{module}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return name
"""


def make_project(
    dest: Path, name: str, version: str = "0.1.0", requires: tuple[str, ...] = ()
) -> Path:
    """A pip-installable project folder whose build backend needs nothing from an index."""
    module = name.replace("-", "_")
    (dest / module).mkdir(parents=True)
    (dest / module / "__init__.py").write_text(f"VALUE = {name!r}\n")
    (dest / "backend.py").write_text(
        _BACKEND.format(name=name, version=version, requires=list(requires))
    )
    (dest / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    return dest


# --- the demo environment, built once -----------------------------------------------------


@dataclass
class DemoBuild:
    spec_path: Path
    spec: dict[str, Any]
    tarball: Path
    lock_out: Path
    build_prefix: Path
    options: dict[str, Any]
    events: list[ProgressEvent] = field(default_factory=list)


def demo_spec(channel_url: str) -> dict[str, Any]:
    return {
        "conda": {
            "channels": [channel_url],
            "dependencies": [
                "python",
                "poncho-demo-app",
                "poncho-demo-activate",
                {"pip": ["poncho-demo-piptop", "./localproj"]},
            ],
        }
    }


@pytest.fixture(scope="session")
def demo_build(
    tmp_path_factory: pytest.TempPathFactory, local_channel: Any, wheelhouse: Any, pkgs_dir: Path
) -> DemoBuild:
    """The demo environment, built into the env cache with the kept prefix and a lock."""
    root = tmp_path_factory.mktemp("demo")
    make_project(root / "localproj", "poncho-create-localproj", "0.2.0")
    spec = demo_spec(local_channel.url)
    spec_path = root / "spec.json"
    spec_path.write_text(json.dumps(spec))
    options = {
        "cache_dir": root / "envs",
        "pkgs_dir": pkgs_dir,
        "tmp_dir": root / "tmp",
        "no_index": True,
        "find_links": [str(wheelhouse.path)],
    }
    events: list[ProgressEvent] = []
    tarball = create(
        spec_path,
        keep_prefix=root / "build" / "env",
        lock_out=root / "lock.json",
        progress=events.append,
        **options,
    )
    return DemoBuild(
        spec_path, spec, tarball, root / "lock.json", root / "build" / "env", options, events
    )


def unpack(tarball: Path, dest: Path) -> Path:
    """Extract with plain `tar` (as a worker without Python tools would)."""
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)], check=True)
    return dest


def leftovers(folder: Path) -> list[str]:
    """Everything under `folder`, for asserting that a failed build left nothing behind."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="session", autouse=True)
def _no_user_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No build of the session (session fixtures' included) writes the user's own caches
    (~/.cache/poncho/envs is every create's environment cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        patch.delenv("PONCHO_ENVS_DIR", raising=False)
        yield


@pytest.fixture(autouse=True)
def _no_user_channel_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The machine's own channel settings (config file, PONCHO_CHANNELS) never reach a test."""
    # The user's caches (~/.cache/poncho/envs) of a test are its own.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-xdg-config"))
    for var in (
        "PONCHO_CONFIG",
        "PONCHO_CHANNELS",
        "PONCHO_OVERRIDE_CHANNELS",
        "PONCHO_CHANNEL_ALIAS",
        "CONDARC",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("PONCHO_ENVS_DIR", "PONCHO_PKGS_DIR", "PONCHO_CREATE_TMPDIR"):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """The helper functions above, for test modules (which cannot import conftest)."""
    return SimpleNamespace(
        mini_spec=mini_spec,
        make_project=make_project,
        unpack=unpack,
        leftovers=leftovers,
        demo_spec=demo_spec,
        generic_package=_generic_package,
    )


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

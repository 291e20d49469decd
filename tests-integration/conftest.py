"""Fixtures for the integration tests: wheels built from packages/, fresh venvs, a user env.

Nothing here uses an editable install: every test runs the console scripts of venvs made from
the built wheels, so a file missing from a wheel, or an undeclared dependency, fails here.
Third-party dependencies come from the package index (PyPI) while the venvs are made; the
tests themselves reach no network (local conda channel, local wheelhouse, 127.0.0.1 servers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = [
    "poncho-core",
    "poncho-spec",
    "poncho-fetch",
    "poncho-run",
    "poncho-create",
    "poncho-analyze",
    "poncho",
]


def _uv() -> str:
    found = shutil.which("uv", path=sysconfig.get_path("scripts")) or shutil.which("uv")
    assert found, "uv is in tests-integration/requirements.txt"
    return found


def sh(
    argv: Sequence[str | os.PathLike[str]], **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run *argv*, fail the test with its output if it fails."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    proc = subprocess.run([str(a) for a in argv], check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(map(str, argv))}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


@dataclass(frozen=True)
class Venv:
    """A virtual environment made by a test fixture."""

    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def script(self, name: str) -> Path:
        path = self.bin / name
        assert path.exists(), f"{name} is not installed in {self.path}"
        return path

    def env(self, **extra: str) -> dict[str, str]:
        """os.environ with this venv's bin first on PATH (as if activated)."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.path)
        env.update(extra)
        return env

    def has_module(self, name: str) -> bool:
        code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
        return subprocess.run([self.python, "-c", code], check=False).returncode == 0


def make_venv(path: Path, *requirements: str, find_links: Path) -> Venv:
    """A fresh venv with *requirements* installed from the wheels in *find_links* (+ PyPI)."""
    sh([_uv(), "venv", "--quiet", "--python", sys.executable, path])
    sh(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            path / "bin" / "python",
            "--find-links",
            find_links,
            *requirements,
        ]
    )
    return Venv(path)


@pytest.fixture(scope="session", autouse=True)
def _no_user_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every create fills an environment cache (~/.cache/poncho/envs): the session's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        patch.delenv("PONCHO_ENVS_DIR", raising=False)
        yield


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of every published package, built from packages/ in this run."""
    out = tmp_path_factory.mktemp("dist")
    for name in PUBLISHED:
        sh(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                out,
                ROOT / "packages" / name,
            ]
        )
    wheels = sorted(p.name for p in out.glob("*.whl"))
    assert len(wheels) == len(PUBLISHED), wheels
    return out


@pytest.fixture(scope="session")
def full_venv(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Venv:
    """`pip install poncho-tools` from the built wheels: all five packages and the umbrella."""
    return make_venv(tmp_path_factory.mktemp("venvs") / "full", "poncho-tools", find_links=dist)


@pytest.fixture(scope="session")
def run_venv(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Venv:
    """`pip install poncho-run` alone, as on a worker."""
    return make_venv(tmp_path_factory.mktemp("venvs") / "worker", "poncho-run", find_links=dist)


@pytest.fixture(scope="session")
def demo_spec(tmp_path_factory: pytest.TempPathFactory, local_channel: object) -> Path:
    """A hand-written spec: python, a noarch package with a dependency and an entry point."""
    import json

    channel = local_channel  # poncho_testing.LocalChannel
    spec = {
        "conda": {
            "channels": [channel.url],  # type: ignore[attr-defined]
            "dependencies": [f"python={channel.python_version}", "poncho-demo-app"],  # type: ignore[attr-defined]
        }
    }
    path = tmp_path_factory.mktemp("specs") / "demo.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


@pytest.fixture(scope="session")
def demo_tarball(
    tmp_path_factory: pytest.TempPathFactory, full_venv: Venv, demo_spec: Path
) -> Path:
    """The demo spec packed by poncho_package_create from the built wheels."""
    out = tmp_path_factory.mktemp("tarballs") / "demo.tar.gz"
    sh([full_venv.script("poncho_package_create"), "--quiet", demo_spec, out], env=full_venv.env())
    assert out.is_file()
    return out


@pytest.fixture(scope="session")
def user_env(
    tmp_path_factory: pytest.TempPathFactory,
    full_venv: Venv,
    dist: Path,
    local_channel: object,
    wheelhouse: object,
) -> Venv:
    """A user's conda environment, as a user has one: conda packages from the (local) channel,
    a pip package from the (local) wheelhouse, and `pip install poncho-tools` from the built wheels.

    poncho_package_analyze run from here sees conda-meta and dist-info exactly as on a user's
    machine. (`Venv` is just a prefix with a bin/ here.)
    """
    import json

    spec = tmp_path_factory.mktemp("specs") / "user-env.json"
    spec.write_text(
        json.dumps(
            {
                "conda": {
                    "channels": [local_channel.url],  # type: ignore[attr-defined]
                    "dependencies": [
                        f"python={local_channel.python_version}",
                        "pip",
                        "poncho-demo-app",  # type: ignore[attr-defined]
                        {"pip": ["poncho-demo-piptop"]},
                    ],
                }
            }
        )
    )
    base = tmp_path_factory.mktemp("user")
    prefix = base / "env"
    sh(
        [
            full_venv.script("poncho_package_create"),
            "--quiet",
            "--no-index",
            "--find-links",
            wheelhouse.path,
            "--keep-prefix",
            prefix,
            spec,
            base / "user-env.tar.gz",
        ],  # type: ignore[attr-defined]
        env=full_venv.env(),
    )
    sh(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            prefix / "bin" / "python",
            "--find-links",
            dist,
            "poncho-tools",
        ]
    )
    return Venv(prefix)

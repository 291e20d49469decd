"""Local wheelhouses for pip tests (pure wheels; platform wheels for cross-platform builds),
and a local project pip can build with no network."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import _wheel
from ._cache import cache_root, cached_dir
from .errors import BuildError

#: Bump when the wheels change: it names the cached wheelhouse.
WHEELHOUSE_VERSION = "1"

#: The same for the platform wheelhouse.
PLATFORM_WHEELHOUSE_VERSION = "2"

PIP_DEMO_VERSION = "0.1.0"


@dataclass(frozen=True)
class Wheelhouse:
    """A folder of wheels, for ``pip install --no-index --find-links <path>``."""

    path: Path
    wheels: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The folder's ``file://`` URL."""
        return self.path.as_uri()


def build_wheelhouse(dest: str | Path | None = None) -> Wheelhouse:
    """Write ``poncho-demo-pipbase`` and ``poncho-demo-piptop`` (which requires the former).

    Both are pure-python ``py3-none-any`` wheels with byte-identical content on every build.
    ``poncho-demo-piptop`` has a console script ``poncho-demo-piptop``. With ``dest=None``
    the wheelhouse is built once into the cache.
    """
    if dest is None:
        path = cached_dir(cache_root().resolve(), f"wheelhouse-{WHEELHOUSE_VERSION}", _write)
    else:
        path = Path(dest).resolve()
        _write(path)
    wheels = {
        name: path / f"{_wheel.normalize(name)}-{PIP_DEMO_VERSION}-py3-none-any.whl"
        for name in ("poncho-demo-pipbase", "poncho-demo-piptop")
    }
    return Wheelhouse(path=path, wheels=wheels)


def build_platform_wheelhouse(
    python_versions: Sequence[str], dest: str | Path | None = None
) -> Wheelhouse:
    """A wheelhouse for cross-platform builds: platform wheels for each of `python_versions`
    (``"3.11"``, ...), beside the two pure wheels of :func:`build_wheelhouse`.

    - ``poncho-demo-native`` (requires ``poncho-demo-pipbase``): one wheel per Python,
      ``cpXY-cpXY-manylinux2014_aarch64`` and ``..._x86_64``, each holding a real static
      executable of its machine (:mod:`poncho_testing.elf`) as the package file
      ``poncho_demo_native/helper`` and as the data script ``poncho-demo-native-helper``
      (installed into ``bin``), a console script ``poncho-demo-native``, and
      ``poncho_demo_native.TAG`` naming the wheel's tag;
    - ``poncho-demo-x86only``: ``manylinux2014_x86_64`` wheels only;
    - ``poncho-demo-sdistonly``: a source distribution only (``.tar.gz``).

    ``wheels`` maps each file name to its path. With ``dest=None`` it is built once into
    the cache.
    """
    tags = [f"cp{v.replace('.', '')}" for v in python_versions]
    for version in python_versions:
        if not re.fullmatch(r"3\.\d+", version):
            raise BuildError(f"not a Python X.Y version: {version!r}")

    def write(path: Path) -> None:
        _write(path)
        _write_platform(path, tags)

    if dest is None:
        key = f"platform-wheelhouse-{PLATFORM_WHEELHOUSE_VERSION}-{'-'.join(tags)}"
        path = cached_dir(cache_root().resolve(), key, write)
    else:
        path = Path(dest).resolve()
        write(path)
    wheels = {f.name: f for f in sorted(path.iterdir()) if f.name.endswith((".whl", ".tar.gz"))}
    return Wheelhouse(path=path, wheels=wheels)


_NATIVE_INIT = """\
\"\"\"Demo platform wheel: a helper executable for one machine.\"\"\"

TAG = {tag!r}


def main() -> int:
    print(f"poncho-demo-native {{TAG}}")
    return 0
"""


def _write_platform(path: Path, tags: Sequence[str]) -> None:
    from .elf import aarch64_executable, x86_64_executable

    machines = {"aarch64": aarch64_executable(), "x86_64": x86_64_executable()}
    data_script = f"poncho_demo_native-{PIP_DEMO_VERSION}.data/scripts/poncho-demo-native-helper"
    for tag in tags:
        for arch, executable in machines.items():
            wheel_tag = f"{tag}-{tag}-manylinux2014_{arch}"
            _wheel.write_wheel(
                path,
                "poncho-demo-native",
                PIP_DEMO_VERSION,
                {
                    "poncho_demo_native/__init__.py": _NATIVE_INIT.format(tag=wheel_tag).encode(),
                    "poncho_demo_native/helper": executable,
                    data_script: executable,
                },
                requires=[f"poncho-demo-pipbase>={PIP_DEMO_VERSION}"],
                console_scripts=["poncho-demo-native = poncho_demo_native:main"],
                tag=wheel_tag,
                executables=["poncho_demo_native/helper", data_script],
                summary="Demo platform wheel",
            )
            if arch == "x86_64":
                _wheel.write_wheel(
                    path,
                    "poncho-demo-x86only",
                    PIP_DEMO_VERSION,
                    {"poncho_demo_x86only/__init__.py": b'"""x86-64 wheels only."""\n'},
                    tag=wheel_tag,
                    summary="Demo wheel built for x86-64 only",
                )
    _write_sdist(path, "poncho-demo-sdistonly", PIP_DEMO_VERSION)


def _write_sdist(dest: Path, name: str, version: str) -> Path:
    """A minimal source distribution (``PKG-INFO``, ``pyproject.toml``, one module)."""
    import io
    import tarfile

    base = f"{_wheel.normalize(name)}-{version}"
    module = _wheel.normalize(name)
    members = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        "pyproject.toml": _PYPROJECT.format(name=name, version=version).encode(),
        f"src/{module}/__init__.py": b'"""Published as a source distribution only."""\n',
    }
    target = dest / f"{base}.tar.gz"
    with tarfile.open(target, "w:gz") as tar:
        for rel, data in members.items():
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
            tar.addfile(info, io.BytesIO(data))
    return target


def _write(path: Path) -> None:
    _wheel.write_wheel(
        path,
        "poncho-demo-pipbase",
        PIP_DEMO_VERSION,
        {
            "poncho_demo_pipbase/__init__.py": (
                b'"""Demo wheel at the bottom of a pip dependency chain."""\n\nVALUE = "pipbase"\n'
            )
        },
        summary="Demo wheel without dependencies",
    )
    _wheel.write_wheel(
        path,
        "poncho-demo-piptop",
        PIP_DEMO_VERSION,
        {
            "poncho_demo_piptop/__init__.py": (
                b'"""Demo wheel that requires poncho-demo-pipbase."""\n\n'
                b"from poncho_demo_pipbase import VALUE as BASE\n\n"
                b'VALUE = "piptop"\n\n\n'
                b"def main() -> int:\n"
                b'    print(f"poncho-demo-piptop on {BASE}")\n'
                b"    return 0\n"
            )
        },
        requires=[f"poncho-demo-pipbase>={PIP_DEMO_VERSION}"],
        console_scripts=["poncho-demo-piptop = poncho_demo_piptop:main"],
        summary="Demo wheel with a dependency",
    )


_BACKEND = '''\
"""In-tree PEP 517 backend written by poncho-testing: builds this project with no network."""

import pathlib

from _poncho_wheel import normalize, write_wheel

NAME = {name!r}
VERSION = {version!r}
MODULE = {module!r}
ROOT = pathlib.Path(__file__).resolve().parent.parent


def _sources():
    src = ROOT / "src"
    return {{
        p.relative_to(src).as_posix(): p.read_bytes()
        for p in sorted(src.rglob("*.py"))
        if "__pycache__" not in p.parts
    }}


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return write_wheel(wheel_directory, NAME, VERSION, _sources()).name


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    pth = {{f"__editable__.{{normalize(NAME)}}.pth": f"{{ROOT / 'src'}}\\n".encode()}}
    return write_wheel(wheel_directory, NAME, VERSION, pth).name


def build_sdist(sdist_directory, config_settings=None):
    import tarfile

    base = f"{{normalize(NAME)}}-{{VERSION}}"
    target = pathlib.Path(sdist_directory) / f"{{base}}.tar.gz"
    with tarfile.open(target, "w:gz") as tar:
        for rel in ("pyproject.toml", "_build", "src"):
            tar.add(ROOT / rel, f"{{base}}/{{rel}}", filter=_no_cache)
        info = tarfile.TarInfo(f"{{base}}/PKG-INFO")
        data = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n".encode()
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
    return target.name


def _no_cache(info):
    return None if "__pycache__" in info.name else info
'''

_PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "{name}"
version = "{version}"
description = "Local demo project made by poncho-testing"
requires-python = ">=3.8"
"""


def make_local_project(
    dest: str | Path, name: str = "poncho-demo-local", version: str = "0.1.0"
) -> Path:
    """Write a tiny pyproject-based project into ``dest`` (created) and return ``dest``.

    The project has one module (``name`` with ``_``, holding ``VALUE = name``) under
    ``src/`` and an in-tree build backend (``backend-path``) that writes the wheel itself:
    ``[build-system] requires = []``, so ``pip install <dest>`` builds it offline, with or
    without build isolation, and ``pip install -e <dest>`` works too.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
        raise BuildError(f"not a valid project name: {name!r}")
    root = Path(dest)
    module = _wheel.normalize(name)
    (root / "src" / module).mkdir(parents=True, exist_ok=True)
    (root / "_build").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(_PYPROJECT.format(name=name, version=version))
    (root / "src" / module / "__init__.py").write_text(
        f'"""Local demo project {name}."""\n\nVALUE = {name!r}\n'
    )
    (root / "_build" / "backend.py").write_text(
        _BACKEND.format(name=name, version=version, module=module)
    )
    (root / "_build" / "_poncho_wheel.py").write_text(Path(_wheel.__file__).read_text())
    return root

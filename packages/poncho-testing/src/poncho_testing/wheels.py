"""A local wheelhouse for pip tests, and a local project pip can build with no network."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import _wheel
from ._cache import cache_root, cached_dir
from .errors import BuildError

#: Bump when the wheels change: it names the cached wheelhouse.
WHEELHOUSE_VERSION = "1"

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

"""noarch:python conda packages: ``pip`` (from ensurepip's bundled wheel) and the demo packages."""

from __future__ import annotations

import re
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from email.parser import HeaderParser
from pathlib import Path

from ._conda_package import PackageFile, PackageMeta, write_conda_package
from ._wheel import record_digest
from .errors import BuildError

NOARCH_BUILD = "pyh0_poncho"

DEMO_VERSION = "0.1.0"

_CORE_INIT = '''\
"""poncho-demo-core: the bottom of the demo dependency chain."""

VALUE = "core"


def greet(name: str) -> str:
    """A greeting line for ``name``."""
    return f"hello {name} from poncho-demo-core ({VALUE})"
'''

_APP_INIT = '''\
"""poncho-demo-app: depends on poncho-demo-core and has a console script."""

from poncho_demo_core import VALUE, greet

__all__ = ["VALUE", "greet", "main"]


def main() -> int:
    """Entry point of the ``poncho-demo-app`` command."""
    import sys

    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    print(f"poncho-demo-app: {greet(name)}")
    return 0
'''

_APP_MAIN = """\
from poncho_demo_app import main

raise SystemExit(main())
"""

_ACTIVATE_SH = """\
# Installed by poncho-demo-activate: proves that activate.d scripts run.
export PONCHO_DEMO_ACTIVATED=yes
"""


def noarch_python_package(
    name: str,
    version: str,
    site_files: Mapping[str, bytes],
    dest_dir: Path,
    *,
    depends: Sequence[str] = ("python",),
    entry_points: Sequence[str] = (),
    other_files: Mapping[str, bytes] | None = None,
    summary: str = "",
    with_dist_info: bool = True,
) -> Path:
    """Write a noarch:python package; ``site_files`` are paths relative to site-packages."""
    site = dict(site_files)
    if with_dist_info:
        site.update(_dist_info(name, version, site, depends, entry_points, summary))
    files = [PackageFile(f"site-packages/{rel}", data=data) for rel, data in site.items()]
    files += [PackageFile(rel, data=data) for rel, data in (other_files or {}).items()]
    meta = PackageMeta(
        name=name,
        version=version,
        build=NOARCH_BUILD,
        build_number=0,
        subdir="noarch",
        depends=depends,
        noarch_python=True,
        entry_points=entry_points,
        summary=summary,
    )
    return write_conda_package(meta, files, dest_dir)


def _dist_info(
    name: str,
    version: str,
    site: Mapping[str, bytes],
    depends: Sequence[str],
    entry_points: Sequence[str],
    summary: str,
) -> dict[str, bytes]:
    """A ``.dist-info`` folder, so that importlib.metadata and pip see the package."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary:
        lines.append(f"Summary: {summary}")
    for dep in depends:
        dep_name, _, constraint = dep.partition(" ")
        if dep_name != "python":
            lines.append(f"Requires-Dist: {dep_name}{constraint.replace(' ', '')}")
    out = {
        f"{dist}/METADATA": ("\n".join(lines) + "\n").encode(),
        f"{dist}/INSTALLER": b"conda\n",
    }
    if entry_points:
        scripts = "".join(f"{ep}\n" for ep in entry_points)
        out[f"{dist}/entry_points.txt"] = f"[console_scripts]\n{scripts}".encode()
    out[f"{dist}/RECORD"] = record({**site, **out}, f"{dist}/RECORD")
    return out


def record(files: Mapping[str, bytes], record_path: str) -> bytes:
    """The text of a wheel-style ``RECORD`` for ``files`` (plus its own hash-less line)."""
    rows = [
        f"{path},sha256={record_digest(data)},{len(data)}" for path, data in sorted(files.items())
    ]
    rows.append(f"{record_path},,")
    return ("\n".join(rows) + "\n").encode()


def demo_packages(dest_dir: Path) -> dict[str, str]:
    """Write the demo packages; return ``{name: version}``."""
    noarch_python_package(
        "poncho-demo-core",
        DEMO_VERSION,
        {"poncho_demo_core/__init__.py": _CORE_INIT.encode()},
        dest_dir,
        summary="Demo package at the bottom of a dependency chain",
    )
    noarch_python_package(
        "poncho-demo-app",
        DEMO_VERSION,
        {
            "poncho_demo_app/__init__.py": _APP_INIT.encode(),
            "poncho_demo_app/__main__.py": _APP_MAIN.encode(),
        },
        dest_dir,
        depends=("python", f"poncho-demo-core >={DEMO_VERSION}"),
        entry_points=("poncho-demo-app = poncho_demo_app:main",),
        summary="Demo package with a dependency and a console script",
    )
    noarch_python_package(
        "poncho-demo-activate",
        DEMO_VERSION,
        {},
        dest_dir,
        other_files={"etc/conda/activate.d/poncho-demo-activate.sh": _ACTIVATE_SH.encode()},
        summary="Demo package with an activate.d script",
        with_dist_info=False,
    )
    return {
        "poncho-demo-core": DEMO_VERSION,
        "poncho-demo-app": DEMO_VERSION,
        "poncho-demo-activate": DEMO_VERSION,
    }


def pip_package(stdlib: Path, dest_dir: Path, *, python: str | None = None) -> str:
    """Write a ``pip`` package from the wheel bundled with ensurepip; return its version.

    With ``python`` (the interpreter the channel is for), the package carries hash-checked
    ``.pyc`` files compiled by it: rattler compiles nothing at install, and pip's ~400
    modules take over a second to compile on every start under ``PYTHONDONTWRITEBYTECODE``.
    """
    wheels = sorted((stdlib / "ensurepip" / "_bundled").glob("pip-*.whl"))
    if not wheels:
        raise BuildError(f"{stdlib}: ensurepip has no bundled pip wheel")
    wheel = wheels[-1]
    version = wheel.name.split("-")[1]
    with tempfile.TemporaryDirectory(prefix="poncho-pip-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)
        if python is not None:
            _compile(python, root)
        site = {
            str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.name != "INSTALLER"
        }
    dist_info = f"pip-{version}.dist-info"
    site[f"{dist_info}/INSTALLER"] = b"conda\n"
    metadata = HeaderParser().parsestr(site[f"{dist_info}/METADATA"].decode())
    constraint = (metadata.get("Requires-Python") or "").replace(" ", "")
    depends = (f"python {constraint}",) if re.fullmatch(r">=[\d.]+", constraint) else ("python",)
    noarch_python_package(
        "pip",
        version,
        site,
        dest_dir,
        depends=depends,
        entry_points=(
            "pip = pip._internal.cli.main:main",
            "pip3 = pip._internal.cli.main:main",
        ),
        summary="The PyPA recommended tool for installing Python packages",
        with_dist_info=False,
    )
    return version


def _compile(python: str, root: Path) -> None:
    argv = [python, "-I", "-m", "compileall", "-q", "-j0", "--invalidation-mode", "checked-hash"]
    try:
        subprocess.run([*argv, str(root)], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"compiling pip with {python} failed: {exc.stdout}{exc.stderr}") from exc

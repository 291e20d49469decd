"""A stand-in ``python`` conda package for another platform (``linux-aarch64``).

Cross-platform builds never run the target's interpreter: they need its conda metadata (the
version gives the wheel tags and the ``lib/pythonX.Y/site-packages`` folder) and files of
the target's machine type in the environment. So the package holds a real aarch64 ELF
executable as ``bin/pythonX.Y`` (see :mod:`poncho_testing.elf`: it exits at once, it is no
interpreter), the usual ``python3``/``python`` links, and ``lib/pythonX.Y/os.py``, the
landmark by which Python finds its prefix. It is not a usable Python: tests check what was
built for the target, and that nothing of it ran here.
"""

from __future__ import annotations

from pathlib import Path

from ._conda_package import PackageFile, PackageMeta, write_conda_package
from .elf import aarch64_executable

__all__ = ["FOREIGN_BUILD", "build_foreign_python_package", "foreign_python_version"]

FOREIGN_BUILD = "h0_poncho_stand_in"

_MACHINE_CODE = {"linux-aarch64": aarch64_executable}


def foreign_python_version(host_version: str) -> str:
    """The version of the stand-in: another minor version than the host's, so that a build
    taking the host's Python tag instead of the environment's is caught."""
    minor = int(host_version.split(".")[1])
    return "3.11.9" if minor != 11 else "3.12.7"


def build_foreign_python_package(subdir: str, version: str, dest_dir: Path) -> Path:
    """Write the stand-in ``python`` `version` for `subdir` into `dest_dir`."""
    try:
        executable = _MACHINE_CODE[subdir]()
    except KeyError:
        raise ValueError(f"no stand-in python for {subdir}") from None
    short = ".".join(version.split(".")[:2])
    files = [
        PackageFile(f"bin/python{short}", data=executable, executable=True),
        PackageFile("bin/python3", link_target=f"python{short}"),
        PackageFile("bin/python", link_target=f"python{short}"),
        PackageFile(
            f"lib/python{short}/os.py",
            data=b'"""Landmark of a stand-in python made by poncho-testing."""\n',
        ),
    ]
    meta = PackageMeta(
        name="python",
        version=version,
        build=FOREIGN_BUILD,
        build_number=0,
        subdir=subdir,
        license="PSF-2.0",
        summary=f"stand-in python {version} for {subdir} (not an interpreter), by poncho-testing",
    )
    return write_conda_package(meta, files, dest_dir)

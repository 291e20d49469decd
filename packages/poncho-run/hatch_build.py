"""Wheel build hook: the ``poncho_package_run`` script (and its old name
``python_package_run``), a POSIX sh front end followed by a zip of the poncho_run engine.

Work Queue, the TaskVine factories, Parsl and coffea copy this one file into each task's
sandbox, where neither poncho nor the venv exists. ``python3 FILE ARGS`` runs the zip
(Python finds a zip archive at the end of any file); sh reads only the text before it.
The zip holds every module of poncho_run and of poncho-core (whole packages: a new module
is carried without a change here), both standard library only; poncho-core's sources are
found beside this package in the monorepo or, in an sdist, in ``vendor/`` where the sdist
put them. The wheel's package also gets
``poncho_run/_engine_id``, a digest of those sources: where the script finds it equal to its
own (pip installed both), it imports the installed packages (poncho-core as pip resolved
poncho-run's dependency on it), whose byte code is compiled once, rather than compiling the
zip's sources at every cold run.

The wheel also gets the man page of the command (the hook's ``man-pages``), written by the
repository's one converter, ``hatch_man.py`` (a link to tools/hatch_man.py; a copy in an sdist).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NAMES = ("poncho_package_run", "python_package_run")

_MAIN = """\
# The engine of a copied poncho_package_run: `python3 poncho_package_run ARGS`.
import sys

ENGINE_ID = "{engine_id}"


def _prefer_installed():
    # pip installs this script beside the same build of poncho_run, whose byte code was
    # compiled once at install: import that one rather than compile the zip's sources at
    # each run. Any other poncho_run (another version, none) leaves the zip first on the path.
    import os

    for folder in sys.path[1:]:
        package = os.path.join(folder, "poncho_run")
        if os.path.isdir(package):
            try:
                with open(os.path.join(package, "_engine_id"), encoding="ascii") as file:
                    if file.read().strip() == ENGINE_ID:
                        del sys.path[0]
            except (OSError, ValueError):
                pass
            return


_prefer_installed()
from poncho_run.cli import main  # noqa: E402

sys.exit(main())
"""
#: The file beside the installed package that names the build of its sources.
ENGINE_ID_FILE = "poncho_run/_engine_id"
# Fixed, so that the same sources give the same script.
_DATE = (2020, 1, 1, 0, 0, 0)


def core_sources(root: Path) -> Path:
    """poncho-core's package folder: beside poncho-run in the monorepo, else in the sdist's
    ``vendor/``."""
    for candidate in (
        root / "vendor" / "poncho_core",
        root.parent / "poncho-core" / "src" / "poncho_core",
    ):
        if (candidate / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"poncho-core's sources not found beside {root}")


def engine_sources(root: Path) -> dict[str, bytes]:
    """The modules the zip carries: ``poncho_run/...`` and ``poncho_core/...`` names ->
    their source."""
    sources = {}
    for name, package in (
        ("poncho_run", root / "src" / "poncho_run"),
        ("poncho_core", core_sources(root)),
    ):
        for path in sorted(package.rglob("*.py")):
            rel = path.relative_to(package)
            if "__pycache__" in rel.parts:
                continue
            sources[f"{name}/{rel.as_posix()}"] = path.read_bytes()
    return sources


def engine_id(sources: dict[str, bytes]) -> str:
    """A digest of the engine's sources: the same in the script and the installed package
    exactly when both come from the same sources."""
    digest = hashlib.sha256(_MAIN.encode())
    for name, data in sorted(sources.items()):
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def build_script(root: Path, output: Path) -> Path:
    """Write the runner script for the package at `root` to `output` (mode 0755)."""
    front = (root / "scripts" / "poncho_package_run.sh").read_bytes()
    sources = engine_sources(root)
    main = _MAIN.replace("{engine_id}", engine_id(sources)).encode()
    buffer = io.BytesIO(front)
    buffer.seek(0, io.SEEK_END)
    # Appending to a file that is not a zip: offsets count from the start of the file.
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("__main__.py", _DATE), main)
        for name, data in sources.items():
            info = zipfile.ZipInfo(name, _DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    output.write_bytes(buffer.getvalue())
    output.chmod(0o755)
    return output


def hatch_man(root: Path) -> ModuleType:
    """The repository's man page converter and build hook helpers (``root/hatch_man.py``)."""
    spec = importlib.util.spec_from_file_location("hatch_man", root / "hatch_man.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"hatch_man.py not found in {root}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RunnerScriptHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the runner script under both names to the wheel's scripts, and its man page."""

    PLUGIN_NAME = "custom"

    _folder: Path | None = None
    _man: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        self._folder = Path(tempfile.mkdtemp(prefix="poncho-run-script-"))
        for name in NAMES:
            script = build_script(Path(self.root), self._folder / name)
            build_data["shared_scripts"][os.fspath(script)] = name
        # The installed package names its build too: the script's engine then imports it.
        stamp = self._folder / "_engine_id"
        stamp.write_text(engine_id(engine_sources(Path(self.root))) + "\n", encoding="ascii")
        build_data["force_include"][os.fspath(stamp)] = ENGINE_ID_FILE
        man = hatch_man(Path(self.root))
        pages = man.configured_pages(self.config)
        self._man = man.add_man_pages(Path(self.root), pages, self.metadata.version, build_data)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        for folder in (self._folder, self._man):  # the scripts and the page are in the wheel now
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self._folder = self._man = None

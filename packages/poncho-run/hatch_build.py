"""Wheel build hook: the ``poncho_package_run`` script (and its old name
``python_package_run``), a POSIX sh front end followed by a zip of the poncho_run engine.

Work Queue, the TaskVine factories, Parsl and coffea copy this one file into each task's
sandbox, where neither poncho nor the venv exists. ``python3 FILE ARGS`` runs the zip
(Python finds a zip archive at the end of any file); sh reads only the text before it.
The zip holds poncho_run's modules and poncho-core's (both standard library only), found
beside this package in the monorepo or, in an sdist, in ``vendor/`` where the sdist put them.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NAMES = ("poncho_package_run", "python_package_run")

_MAIN = b"""\
# The engine of a copied poncho_package_run: `python3 poncho_package_run ARGS`.
import sys

from poncho_run.cli import main

sys.exit(main())
"""
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


def build_script(root: Path, output: Path) -> Path:
    """Write the runner script for the package at `root` to `output` (mode 0755)."""
    front = (root / "scripts" / "poncho_package_run.sh").read_bytes()
    buffer = io.BytesIO(front)
    buffer.seek(0, io.SEEK_END)
    # Appending to a file that is not a zip: offsets count from the start of the file.
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("__main__.py", _DATE), _MAIN)
        for name, package in (
            ("poncho_run", root / "src" / "poncho_run"),
            ("poncho_core", core_sources(root)),
        ):
            for path in sorted(package.rglob("*.py")):
                rel = path.relative_to(package)
                if rel.parts[0] in ("_dask", "dask.py") or "__pycache__" in rel.parts:
                    continue
                info = zipfile.ZipInfo(f"{name}/{rel.as_posix()}", _DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    output.write_bytes(buffer.getvalue())
    output.chmod(0o755)
    return output


class RunnerScriptHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the runner script under both names to the wheel's scripts."""

    PLUGIN_NAME = "custom"

    _folder: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        self._folder = Path(tempfile.mkdtemp(prefix="poncho-run-script-"))
        for name in NAMES:
            script = build_script(Path(self.root), self._folder / name)
            build_data["shared_scripts"][os.fspath(script)] = name

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._folder is not None:  # the scripts are in the wheel now
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

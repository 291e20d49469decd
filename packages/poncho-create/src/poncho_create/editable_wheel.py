"""A wheel of an editable install's source, built with the environment's own pip, and its
files laid out as installing it would place them (into a work folder, never into the
environment).

``python -m pip wheel --no-deps --no-build-isolation --no-index`` runs the project's build
backend from the environment (setuptools, hatchling...) on the source folder, as
``pip install -e`` did: no network, nothing installed. pip builds in the source folder; the
outputs a backend leaves there (setuptools' ``build/`` and ``*.egg-info``) are removed
again when they were not there before. Bytecode is not written
(``PYTHONDONTWRITEBYTECODE``) and pip's configuration is not read, as for every pip run of
a build (`poncho_create.pip_run.Pip.environment`).
"""

from __future__ import annotations

import contextlib
import logging
import stat
import zipfile
from pathlib import Path, PurePosixPath

from poncho_core.fs import rmtree
from poncho_create._subprocess import run_streamed
from poncho_create.editable import EditablePackages
from poncho_create.options import PipOptions
from poncho_create.pip_run import Pip, output_tail
from poncho_create.progress import Reporter

__all__ = ["build_wheel", "lay_out_wheel"]

log = logging.getLogger(__name__)


def build_wheel(prefix: Path, source: Path, work: Path, report: Reporter) -> Path | None:
    """A wheel of `source` built by the environment's pip into `work`; None (with a
    warning giving pip's last lines) when the environment has no pip or the build fails,
    e.g. its backend is not installed in the environment."""
    python = prefix / "bin" / "python"
    if not python.exists():
        log.warning("%s: no bin/python, so no wheel of %s can be built", prefix, source)
        return None
    out = work / "wheel"
    out.mkdir(parents=True, exist_ok=True)
    env = Pip(python, PipOptions(), work, report).environment()
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written into the environment
    cmd = [str(python), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "--no-cache-dir", "--disable-pip-version-check",
           "--wheel-dir", str(out), str(source)]  # fmt: skip
    log.info("building a wheel of %s with %s", source, python)
    before = _build_outputs(source)
    try:
        result = run_streamed(cmd, env=env)
    except OSError as exc:
        log.warning("cannot run %s: %s", python, exc)
        return None
    finally:
        for path in _build_outputs(source) - before:
            with contextlib.suppress(OSError):
                rmtree(path)
    wheels = sorted(out.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        log.warning(
            "pip could not build a wheel of %s (exit code %d); last lines of its output:\n%s",
            source, result.returncode, output_tail(result.stdout),
        )  # fmt: skip
        return None
    return wheels[0]


def _build_outputs(source: Path) -> set[Path]:
    """What a backend writes into the source folder while building (setuptools' ``build/``
    and ``*.egg-info``): what it added is removed again, so the folder is left as it was and
    the next build cannot take a module deleted since from a stale ``build/lib``."""
    patterns = ("build", "*.egg-info", "*/*.egg-info")
    return {path for pattern in patterns for path in source.glob(pattern)}


def lay_out_wheel(wheel: Path, dest: Path, site: str, prefix: Path) -> str:
    """Write the files of `wheel` under `dest` at the prefix-relative paths installing it
    would give them (`site` is the prefix-relative site-packages); returns the path of its
    ``.dist-info`` relative to `dest`. The wheel's RECORD is left out (the caller writes
    one for the files it packs); a script of ``.data/scripts`` the environment's ``bin``
    already holds is left out too (the environment's copy is packed).

    Raises EditablePackages when a member's name would leave `dest`.
    """
    python_dir = PurePosixPath(site).parent.name  # pythonX.Y
    dist_info = ""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise EditablePackages(f"{wheel}: unsafe member name {info.filename!r}")
            top = name.parts[0]
            if top.endswith(".dist-info") and len(name.parts) == 2:
                dist_info = f"{site}/{top}"
                if name.name == "RECORD":
                    continue
            target = _target(name, site, python_dir)
            if target is None or (target.startswith("bin/") and (prefix / target).exists()):
                continue
            data = zf.read(info)
            if target.startswith("bin/") and data.startswith(b"#!python"):
                data = b"#!/usr/bin/env python" + data[len(b"#!python") :]
            path = dest / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            mode = (info.external_attr >> 16) & 0o777
            if mode & stat.S_IXUSR or target.startswith("bin/"):
                path.chmod(0o755)
    if not dist_info:
        raise EditablePackages(f"{wheel}: no .dist-info folder in it")
    return dist_info


def _target(name: PurePosixPath, site: str, python_dir: str) -> str | None:
    """Where a wheel member goes, prefix-relative (None for what no install places)."""
    top = name.parts[0]
    if not top.endswith(".data"):
        return f"{site}/{name}"
    if len(name.parts) < 3:
        return None
    scheme, rest = name.parts[1], PurePosixPath(*name.parts[2:])
    if scheme in ("purelib", "platlib"):
        return f"{site}/{rest}"
    if scheme == "scripts":
        return f"bin/{rest}"
    if scheme == "data":
        return str(rest)
    if scheme == "headers":
        project = top[: -len(".data")].rsplit("-", 1)[0]
        return f"include/{python_dir}/{project}/{rest}"
    return None

"""Finding an existing conda environment by folder or by name, as conda itself does.

``poncho_package_create SPEC OUTPUT`` takes, besides a spec file, a conda environment folder
(it has ``conda-meta/``) or a conda environment name (CCTools, Parsl's TaskVine ``env_pack``
and coffea pass either). Conda is not needed to resolve names: the folders it would search
are read from the same places (``envs_dirs`` of the user's ``.condarc`` files and of
``$CONDA_ENVS_PATH``, the environments next to ``$CONDA_PREFIX``, the root of
``$CONDA_EXE``, ``~/.conda/envs``, and the environments conda registered in
``~/.conda/environments.txt``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from poncho_create.condarc import read_condarc
from poncho_create.errors import CreateError

__all__ = [
    "EnvironmentNotFound",
    "NotACondaEnvironment",
    "conda_envs_dirs",
    "find_conda_env",
    "is_conda_env",
    "looks_like_env_name",
]

log = logging.getLogger(__name__)

_SPEC_ENDINGS = (".json", ".yml", ".yaml", ".txt")


class EnvironmentNotFound(CreateError, FileNotFoundError):
    """SPEC is neither a file nor the name of a conda environment found in conda's folders."""


class NotACondaEnvironment(CreateError):
    """SPEC is a folder without ``conda-meta/`` (a virtual environment, or anything else)."""


def is_conda_env(path: Path) -> bool:
    """True when `path` is a conda environment folder (it holds ``conda-meta/``)."""
    return (path / "conda-meta").is_dir()


def looks_like_env_name(text: str) -> bool:
    """True when `text` can be a conda environment name rather than a file path: no folder
    separator, not ``.``/``..``/``-``, not a spec file name."""
    return bool(text) and (
        os.sep not in text
        and "/" not in text
        and text not in {".", "..", "-"}
        and not text.lower().endswith(_SPEC_ENDINGS)
    )


def check_folder(path: Path) -> Path:
    """`path` (an existing folder) as a conda environment; NotACondaEnvironment otherwise,
    saying what to do with a plain virtual environment."""
    if is_conda_env(path):
        return path.resolve()
    if (path / "pyvenv.cfg").is_file() or (path / "bin" / "python").exists():
        raise NotACondaEnvironment(
            f"{path}: a Python virtual environment, not a conda environment (no conda-meta/), "
            "which conda-pack cannot pack. Describe what it needs with a spec instead: "
            f"poncho_package_analyze --interpreter {path / 'bin' / 'python'} SCRIPT spec.json, "
            "then poncho_package_create spec.json OUTPUT"
        )
    raise NotACondaEnvironment(
        f"{path}: a folder, neither a spec file nor a conda environment (no conda-meta/)"
    )


def conda_envs_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The folders conda looks for named environments in, in conda's order of priority."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    dirs: list[Path] = []
    for var in ("CONDA_ENVS_PATH", "CONDA_ENVS_DIRS"):
        dirs += [Path(p).expanduser() for p in env.get(var, "").split(os.pathsep) if p]
    config, _files = read_condarc(env, home)
    for key in ("envs_dirs", "envs_path"):  # envs_path: the older name
        value = config.get(key, [])
        for folder in [value] if isinstance(value, str) else value:
            if isinstance(folder, str):
                dirs.append(Path(os.path.expandvars(folder)).expanduser())
    prefix = env.get("CONDA_PREFIX")
    if prefix:
        here = Path(prefix)
        # Inside envs/NAME the siblings are the other environments; the base env has envs/.
        dirs.append(here.parent if here.parent.name == "envs" else here / "envs")
    exe = env.get("CONDA_EXE")
    if exe:
        dirs.append(Path(exe).resolve().parent.parent / "envs")
    dirs.append(home / ".conda" / "envs")
    return list(dict.fromkeys(d.expanduser() for d in dirs))


def find_conda_env(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the conda environment called `name`; EnvironmentNotFound if none.

    ``base`` is the root of ``$CONDA_EXE`` or of ``$CONDA_ROOT`` when those are set.
    """
    env = os.environ if environ is None else environ
    searched = conda_envs_dirs(env)
    if name == "base":
        for root in _base_candidates(env):
            if is_conda_env(root):
                return root.resolve()
    for folder in searched:
        candidate = folder / name
        if is_conda_env(candidate):
            return candidate.resolve()
    home = Path(env.get("HOME") or Path.home())
    for registered in _registered_envs(home):
        if registered.name == name and is_conda_env(registered):
            return registered.resolve()
    where = ", ".join(str(d) for d in searched)
    raise EnvironmentNotFound(
        f"{name}: no such spec file, and no conda environment of that name in {where} "
        "(nor in ~/.conda/environments.txt)"
    )


def _base_candidates(env: Mapping[str, str]) -> list[Path]:
    out = []
    if env.get("CONDA_ROOT"):
        out.append(Path(env["CONDA_ROOT"]))
    if env.get("CONDA_EXE"):
        out.append(Path(env["CONDA_EXE"]).resolve().parent.parent)
    return out


def _registered_envs(home: Path) -> list[Path]:
    try:
        text = (home / ".conda" / "environments.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return [Path(line.strip()) for line in text.splitlines() if line.strip()]

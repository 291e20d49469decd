"""Test helpers for the Poncho monorepo: local conda channel, wheelhouse, HTTP and git servers.

Importing this package is cheap: its modules load on first use of a name (so the pytest
plugin costs nothing at start-up and coverage sees every line), and py-rattler and
conda-pack are imported only when a helper that needs them runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channel import BUILDER_VERSION, LocalChannel, build_channel
    from .elf import EM_AARCH64, EM_X86_64, aarch64_executable, elf_machine, x86_64_executable
    from .envs import build_env_tarball, install_prefix, solve
    from .errors import BuildError, PonchoTestingError
    from .gitrepo import GitRepo, make_git_repo
    from .httpserver import ServedDirectory, serve_directory
    from .isolation import can_hide_paths, hide_paths_argv
    from .wheels import (
        Wheelhouse,
        build_platform_wheelhouse,
        build_wheelhouse,
        make_local_project,
    )

__version__ = "0.1.0"

__all__ = [
    "BUILDER_VERSION",
    "EM_AARCH64",
    "EM_X86_64",
    "BuildError",
    "GitRepo",
    "LocalChannel",
    "PonchoTestingError",
    "ServedDirectory",
    "Wheelhouse",
    "__version__",
    "aarch64_executable",
    "build_channel",
    "build_env_tarball",
    "build_platform_wheelhouse",
    "build_wheelhouse",
    "can_hide_paths",
    "elf_machine",
    "hide_paths_argv",
    "install_prefix",
    "make_git_repo",
    "make_local_project",
    "serve_directory",
    "solve",
    "x86_64_executable",
]

_MODULES = {
    "BUILDER_VERSION": "channel",
    "LocalChannel": "channel",
    "build_channel": "channel",
    "build_env_tarball": "envs",
    "install_prefix": "envs",
    "solve": "envs",
    "BuildError": "errors",
    "PonchoTestingError": "errors",
    "GitRepo": "gitrepo",
    "make_git_repo": "gitrepo",
    "ServedDirectory": "httpserver",
    "serve_directory": "httpserver",
    "Wheelhouse": "wheels",
    "build_wheelhouse": "wheels",
    "build_platform_wheelhouse": "wheels",
    "EM_AARCH64": "elf",
    "EM_X86_64": "elf",
    "aarch64_executable": "elf",
    "elf_machine": "elf",
    "x86_64_executable": "elf",
    "make_local_project": "wheels",
    "can_hide_paths": "isolation",
    "hide_paths_argv": "isolation",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

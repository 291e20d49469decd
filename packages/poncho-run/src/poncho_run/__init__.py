"""Unpack, activate and run commands in a packed Poncho/conda-pack environment.

>>> env = prepare("env.tar.gz", unpack_to="/scratch/envA", wait=300)  # doctest: +SKIP
>>> subprocess.run(env.command(["python", "task.py"]), env=env.environ())  # doctest: +SKIP

The names below are imported on first use: ``poncho_package_run`` starts for every task, and
a warm run must not pay for what it does not use.
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from poncho_run.api import DEFAULT_WAIT, PreparedEnvironment, open_ready, prepare, run
    from poncho_run.errors import (
        CommandNotExecutable,
        CommandNotFound,
        EnvironmentNotFound,
        LimitExceeded,
        LockTimeout,
        PonchoError,
        RunError,
        UnpackError,
        UnsafeArchive,
        UnsupportedArchive,
    )

__all__ = [
    "DEFAULT_WAIT",
    "CommandNotExecutable",
    "CommandNotFound",
    "EnvironmentNotFound",
    "LimitExceeded",
    "LockTimeout",
    "PonchoError",
    "PreparedEnvironment",
    "RunError",
    "UnpackError",
    "UnsafeArchive",
    "UnsupportedArchive",
    "__version__",
    "open_ready",
    "prepare",
    "run",
]

_API = {"DEFAULT_WAIT", "PreparedEnvironment", "open_ready", "prepare", "run"}


def __getattr__(name: str) -> object:
    if name in _API:
        from poncho_run import api

        return getattr(api, name)
    if name in __all__:
        from poncho_run import errors

        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""Build a conda environment from a Poncho spec and pack it into a relocatable tarball.

>>> from poncho_create import create
>>> path = create("spec.json")                      # doctest: +SKIP
>>> path = create("spec.json", "env.tar.zst", lock_out="lock.json")   # doctest: +SKIP

Importing this package is cheap: py-rattler and conda-pack are imported only to build.
"""

from __future__ import annotations

from poncho_create.api import create, plan_create
from poncho_create.errors import (
    BuildLockTimeout,
    ChannelError,
    CondaExeError,
    ConfigError,
    CreateError,
    LockError,
    OutputExists,
    PackageNotFound,
    PackError,
    PipError,
    UnsatisfiableSpec,
)
from poncho_create.lock import CondaLockEntry, GitLockEntry, Lock, PipLockEntry
from poncho_create.progress import ProgressEvent

__version__ = "0.1.0"

__all__ = [
    "BuildLockTimeout",
    "ChannelError",
    "CondaExeError",
    "CondaLockEntry",
    "ConfigError",
    "CreateError",
    "GitLockEntry",
    "Lock",
    "LockError",
    "OutputExists",
    "PackError",
    "PackageNotFound",
    "PipError",
    "PipLockEntry",
    "ProgressEvent",
    "UnsatisfiableSpec",
    "__version__",
    "create",
    "plan_create",
]

"""What the channel builder needs to know about a Python interpreter, asked of it."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError

_PROBE = r"""
import json, os, platform, sys, sysconfig
print(json.dumps({
    "base_prefix": os.path.realpath(sys.base_prefix),
    "version": platform.python_version(),
    "short": sysconfig.get_config_var("VERSION") or "%d.%d" % sys.version_info[:2],
    "ldversion": sysconfig.get_config_var("LDVERSION") or "",
    "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
    "stdlib": os.path.realpath(sysconfig.get_path("stdlib")),
    "implementation": sys.implementation.name,
    "cache_tag": sys.implementation.cache_tag,
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """The base installation behind a Python executable (a venv's python leads to its base)."""

    base_prefix: Path
    version: str
    short_version: str
    ldversion: str
    shared: bool
    stdlib: Path
    cache_tag: str

    @property
    def executable(self) -> Path:
        """The real interpreter binary inside the base prefix."""
        return self.base_prefix / "bin" / f"python{self.ldversion or self.short_version}"


@functools.cache
def probe_interpreter(python: str) -> Interpreter:
    """Ask ``python`` where its base installation is and which version it is."""
    try:
        out = subprocess.run(
            [python, "-I", "-c", _PROBE],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"cannot run the interpreter {python!r}: {exc}") from exc
    data = json.loads(out)
    if data["implementation"] != "cpython":
        raise BuildError(f"{python}: only CPython can be packaged, not {data['implementation']}")
    return Interpreter(
        base_prefix=Path(data["base_prefix"]),
        version=data["version"],
        short_version=data["short"],
        ldversion=data["ldversion"],
        shared=data["shared"],
        stdlib=Path(data["stdlib"]),
        cache_tag=data["cache_tag"],
    )

"""The environment inspected: what it is (prefix, module search path, Python version, as
its interpreter tells), and which one: the one the user activated, not poncho's own.

Poncho is often installed once (with pipx, in a tool environment) and run while the
user's own virtual environment or conda environment is activated.  That activated
environment holds what the user's program imports, so it is the one inspected, exactly
as ``--interpreter`` would inspect it; poncho's own environment is inspected only when
nothing else is activated (or when it is the activated one).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from poncho_analyze.errors import AnalyzeError

__all__ = ["ACTIVATION_VARIABLES", "Environment", "Inspected", "choose_environment"]

_INFO_CODE = """\
import json, sys
print(json.dumps({
    "prefix": sys.prefix, "base_prefix": sys.base_prefix, "path": sys.path,
    "version": ".".join(map(str, sys.version_info[:3])),
    "stdlib": sorted(getattr(sys, "stdlib_module_names", ())),
}))
"""


def _executable(given: str) -> str:
    """The absolute path of the interpreter *given*, as a shell would find it; the probe
    runs in another folder, so a relative path would name another file there.  Links are
    kept: a virtual environment's python is a link, and its environment is where it is."""
    if os.sep in given or (os.altsep and os.altsep in given):
        path = Path(given).absolute()
        if path.is_dir():
            problem = "a folder, not a Python executable"
        elif not path.exists():
            problem = "no such file"
        elif not os.access(path, os.X_OK):
            problem = "not executable"
        else:
            return str(path)
    else:
        import shutil

        found = shutil.which(given)
        if found is not None:
            return str(Path(found).absolute())
        problem = "not found on PATH"
        if Path(given).exists():
            problem += f" (write ./{given} for the one in the current folder)"
    raise AnalyzeError(f"cannot inspect the interpreter {given}: {problem}")


@dataclass(frozen=True)
class Environment:
    """A Python environment to inspect: its prefix, module search path and version.

    ``stdlib`` holds the interpreter's ``sys.stdlib_module_names`` (empty when unknown).
    """

    prefix: Path
    paths: tuple[Path, ...]
    python_version: str
    stdlib: frozenset[str] = frozenset()
    base_prefix: Path | None = None
    executable: Path | None = None

    @classmethod
    def current(cls) -> Environment:
        """The running interpreter's environment (``sys.prefix``, ``sys.path``)."""
        return cls._from_info(
            sys.prefix,
            sys.base_prefix,
            sys.path,
            ".".join(map(str, sys.version_info[:3])),
            sys.stdlib_module_names,
            sys.executable,
        )

    @classmethod
    def from_python(cls, executable: str | os.PathLike[str]) -> Environment:
        """The environment of another interpreter, asked with a subprocess (it imports
        only ``sys`` and ``json``, from an empty folder).

        A path (``env/bin/python``) is taken relative to the current folder, a bare name
        (``python3``) is looked up on ``PATH``."""
        given = os.fspath(executable)
        exe = _executable(given)
        from poncho_analyze import _cache

        info = _cache.load_interpreter(exe)
        if info is None:
            info = cls._probe(given, exe)
            _cache.store_interpreter(exe, info)
        return cls._from_info(
            info["prefix"], info["base_prefix"], info["path"], info["version"], info["stdlib"], exe
        )

    @staticmethod
    def _probe(given: str, exe: str) -> dict[str, Any]:
        import subprocess
        import tempfile

        try:
            with tempfile.TemporaryDirectory(prefix="poncho-analyze-") as empty:
                out = subprocess.run(
                    [exe, "-c", _INFO_CODE],
                    cwd=empty,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=60,
                )
            info = json.loads(out.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise AnalyzeError(f"cannot inspect the interpreter {given}: {detail}") from exc
        if not isinstance(info, dict):
            raise AnalyzeError(f"cannot inspect the interpreter {given}: unexpected answer")
        return info

    @classmethod
    def _from_info(
        cls,
        prefix: str,
        base_prefix: str,
        path: Iterable[str],
        version: str,
        stdlib: Iterable[str],
        executable: str,
    ) -> Environment:
        paths = tuple(dict.fromkeys(Path(p) for p in path if p and Path(p).is_dir()))
        return cls(
            Path(prefix), paths, version, frozenset(stdlib), Path(base_prefix), Path(executable)
        )

    def conda_prefixes(self) -> list[Path]:
        """The prefixes (own, then base) that hold a ``conda-meta`` folder."""
        seen = []
        for prefix in (self.prefix, self.base_prefix):
            if prefix is not None and (prefix / "conda-meta").is_dir() and prefix not in seen:
                seen.append(prefix)
        return seen


#: Checked in this order: a virtual environment activated on top of a conda
#: environment is the innermost one.
ACTIVATION_VARIABLES = ("VIRTUAL_ENV", "CONDA_PREFIX")


# A NamedTuple, not a dataclass: made at import, several times cheaper, and every run
# of the command pays for each class it makes.
class Inspected(NamedTuple):
    """The environment chosen and why (``"--interpreter"``, ``"$VIRTUAL_ENV"``...)."""

    environment: Environment
    why: str

    def line(self) -> str:
        """One line for the user: which interpreter and prefix, which Python, and why."""
        env = self.environment
        exe = env.executable or "?"
        return f"inspecting {exe} (Python {env.python_version}, prefix {env.prefix}; {self.why})"


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _python_in(prefix: Path) -> Path | None:
    for name in ("bin/python", "bin/python3", "python.exe", "Scripts/python.exe"):
        if (prefix / name).is_file():
            return prefix / name
    return None


def choose_environment(
    interpreter: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Inspected:
    """The environment to inspect: *interpreter*'s if given; else an activated one
    (``VIRTUAL_ENV``, then ``CONDA_PREFIX``) that is not the running interpreter's;
    else the running interpreter's.  Raises AnalyzeError when an interpreter cannot be
    asked."""
    if interpreter is not None:
        return Inspected(Environment.from_python(interpreter), "--interpreter")
    environ = os.environ if environ is None else environ
    for variable in ACTIVATION_VARIABLES:
        value = environ.get(variable)
        if not value or not Path(value).is_dir() or _same(value, sys.prefix):
            continue
        python = _python_in(Path(value))
        if python is not None:
            return Inspected(
                Environment.from_python(python),
                f"the activated environment ${variable}, not poncho's own at {sys.prefix}",
            )
    return Inspected(Environment.current(), "the Python running poncho")

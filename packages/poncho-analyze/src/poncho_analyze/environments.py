"""Which environment to inspect: the one the user activated, not poncho's own.

Poncho is often installed once (with pipx, in a tool environment) and run while the
user's own virtual environment or conda environment is activated.  That activated
environment holds what the user's program imports, so it is the one inspected, exactly
as ``--interpreter`` would inspect it; poncho's own environment is inspected only when
nothing else is activated (or when it is the activated one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from poncho_analyze.mapping import Environment

__all__ = ["ACTIVATION_VARIABLES", "Inspected", "choose_environment"]

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

"""Make an unpacked environment valid at its new path: conda-pack's ``bin/conda-unpack``.

conda-pack leaves a placeholder for the original prefix in text files and scripts;
``conda-unpack`` (a Python script it writes into the archive) replaces it with the folder it
now lives in. It is run with the environment's own ``bin/python`` (with the running
interpreter if the environment has none), once per unpack. Running it again is harmless: the
placeholders are gone. A prefix without ``bin/conda-unpack`` needs nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from poncho_run.errors import RunError

__all__ = ["relocate"]

_log = logging.getLogger(__name__)


def relocate(prefix: str) -> bool:
    """Run ``<prefix>/bin/conda-unpack`` if there is one; return whether it ran.

    Raises `RunError` (with conda-unpack's own message) if it fails.
    """
    script = Path(prefix, "bin", "conda-unpack")
    if not script.is_file():
        _log.debug("%s: no bin/conda-unpack, nothing to relocate", prefix)
        return False
    python = str(Path(prefix, "bin", "python"))
    if not os.access(python, os.X_OK):
        python = sys.executable
    # -E -s: ignore PYTHON* variables and the user's site-packages; not -I, which would
    # drop the script's folder (holding conda_unpack_progress.py) from sys.path.
    argv = [python, "-E", "-s", str(script)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _log.info("relocating %s (conda-unpack)", prefix)
    try:
        proc = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
    except OSError as exc:
        raise RunError(f"{prefix}: cannot run conda-unpack with {python}: {exc}") from exc
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
        # The error is one line: conda-unpack's last line (a Python error's message); the
        # whole output (a traceback) goes to the log (-v).
        _log.info("conda-unpack said:\n%s", message)
        last = message.splitlines()[-1].strip() if message else "no message"
        raise RunError(f"{prefix}: conda-unpack failed (exit status {proc.returncode}): {last}")
    return True

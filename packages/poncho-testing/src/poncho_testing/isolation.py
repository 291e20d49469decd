"""Run a command with some folders hidden (a private mount namespace with empty tmpfs over them).

This is how tests prove that a relocated environment no longer needs the interpreter it was
made from: with that interpreter's prefix hidden, anything still pointing into it fails.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

_SCRIPT = 'for d in "$@"; do [ "$d" = -- ] && break; mount -t tmpfs poncho-hidden "$d" || exit 97; \
shift; done; shift; exec "$@"'


def _unshare_base() -> list[str] | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    # Outside root, a user namespace mapped to root may mount a tmpfs in its own mount namespace.
    return [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-r", "-m"]


@functools.lru_cache(maxsize=1)
def can_hide_paths() -> bool:
    """Whether :func:`hide_paths_argv` works here (``unshare`` allowed to mount a tmpfs)."""
    base = _unshare_base()
    if base is None:
        return False
    probe = Path(__file__).parent
    try:
        result = subprocess.run(
            [*hide_paths_argv([probe], ["ls", "-A", str(probe)])],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == ""


def hide_paths_argv(paths: Sequence[str | os.PathLike[str]], argv: Sequence[str]) -> list[str]:
    """An argv that runs ``argv`` with every folder of ``paths`` hidden behind an empty tmpfs.

    Check :func:`can_hide_paths` first (it needs ``unshare -m``: root, or user namespaces).
    """
    base = _unshare_base() or ["unshare", "-m"]
    return [*base, "sh", "-c", _SCRIPT, "sh", *(str(p) for p in paths), "--", *argv]

"""Helpers for poncho-run's tests: hand-made tarballs (imported by name; conftest puts this
folder on sys.path, as pytest's importlib mode does not)."""

from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

from poncho_testing.tars import make_tar, member

__all__ = ["DEMO_SPECS", "hand_env_members", "make_tar", "member", "script", "tree"]

# The real environment used by the slow tests: python, the demo app (a console script) and a
# package with an etc/conda/activate.d script.
DEMO_SPECS = ["python", "poncho-demo-app", "poncho-demo-activate"]


def script(body: str) -> bytes:
    """A POSIX sh script."""
    return ("#!/bin/sh\n" + body + "\n").encode()


def hand_env_members(
    activate: str | None = 'export HAND_ACTIVATED="yes:$CONDA_PREFIX"',
) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """A small fake environment: bin/hello (prints its prefix and exits with $1), bin/python
    (a link to the running interpreter's name is not portable: a sh wrapper), an
    activate.d script."""
    members = [
        member("bin", kind=tarfile.DIRTYPE, mode=0o755),
        member(
            "bin/hello",
            script('echo "hello prefix=$CONDA_PREFIX act=${HAND_ACTIVATED-}"; exit "${1:-0}"'),
            mode=0o755,
        ),
        member("bin/python", script(f'exec {sys.executable} "$@"'), mode=0o755),
        member("lib/data.txt", b"data\n"),
    ]
    if activate is not None:
        members.append(member("etc/conda/activate.d/hand.sh", (activate + "\n").encode()))
    return members


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative, as strings (links not followed)."""
    out = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(folder, name), root))
    return out

"""Helpers for poncho-run's tests: hand-made tarballs (imported by name; conftest puts this
folder on sys.path, as pytest's importlib mode does not)."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path

# The real environment used by the slow tests: python, the demo app (a console script) and a
# package with an etc/conda/activate.d script.
DEMO_SPECS = ["python", "poncho-demo-app", "poncho-demo-activate"]


def member(
    name: str,
    data: bytes = b"",
    *,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    mode: int = 0o644,
    mtime: int = 1_600_000_000,
) -> tuple[tarfile.TarInfo, bytes | None]:
    """One archive member for `make_tar`."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.linkname = linkname
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
        return info, data
    return info, None


def make_tar(
    path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz"
) -> Path:
    """Write an archive of `members` (from `member`) to `path` and return it."""
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


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

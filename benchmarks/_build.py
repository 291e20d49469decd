"""Building benchmark environments as a user does: ``poncho_package_create SPEC OUTPUT``.

The command is the one ``pip install poncho-create`` puts next to this Python. Every cache a
build reads or fills lives under one folder (`root`): the environment cache
(``--cache-dir``), the conda package cache (``--pkgs-dir``), the build folders
(``--tmp-dir``) and, through ``XDG_CACHE_HOME``, pip's wheel cache and rattler's repodata
cache; a new `root` is a build from empty caches, the same `root` again a warm one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class Unavailable(Exception):
    """Something a benchmark needs cannot be had on this machine (the message is one line,
    printed in the table as the reason its rows were skipped)."""


def bench_cache() -> Path:
    """The benchmarks' own cache, kept between runs: ``$PONCHO_BENCH_CACHE``, else
    ``~/.cache/poncho-bench`` (bench_analyze keeps its environment there too)."""
    return Path(os.environ.get("PONCHO_BENCH_CACHE") or "~/.cache/poncho-bench").expanduser()


def script(name: str) -> str:
    """A console script installed next to this Python (``poncho_package_create``...)."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise RuntimeError(f"{path}: missing; install the packages first (nox -s benchmarks)")
    return str(path)


def create(
    spec: Path, output: Path, root: Path, options: Sequence[str] = (), quiet: bool = True
) -> float:
    """Run ``poncho_package_create spec output`` with its caches under `root`; return the
    wall seconds it took. A failed build raises RuntimeError with the end of its stderr."""
    root.mkdir(parents=True, exist_ok=True)
    argv = [
        script("poncho_package_create"),
        str(spec),
        str(output),
        "--cache-dir", str(root / "envs"),
        "--pkgs-dir", str(root / "pkgs"),
        "--tmp-dir", str(root / "tmp"),
        *(["-q"] if quiet else []),
        *options,
    ]  # fmt: skip
    env = {**os.environ, "XDG_CACHE_HOME": str(root / "xdg")}
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}\n{tail}")
    return seconds

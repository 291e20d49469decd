"""The edit loop: change one line of your own code, build the environment again, run it.

The spec: python and pip from the local channel, ``poncho-bench-bulk`` (a conda package of
several hundred MB, half incompressible; see ``_bulk``) and two local pip packages (folders
with a ``pyproject.toml``, 50 modules each, built offline by poncho-testing's in-tree
backend). Every build is ``poncho_package_create spec.json OUTPUT --no-index`` at the
default level, its caches in one folder (see ``_build.create``). Rows, measured in one run:

- a build after a one-line edit of one module of one local package, the caches warm from
  the first build, against that first build from empty caches (target <= 0.2x, moonshot
  <= 0.1x);
- the same spec built again with nothing edited (a cache hit), against the same;
- the first run of the new tarball (``poncho_package_run -e NEW -u W/new -- python -c
  pass``) in a worker folder W where the old tarball is already unpacked (``W/old``),
  against the same run in a fresh worker folder; each repetition gets its own folders,
  the old one unpacked before the clock starts (the node store's target: <= 0.5x);
- the new tarball's size against its files unpacked.

Alone: ``python benchmarks/run.py --only edit`` (or ``python benchmarks/bench_edit.py
[--quick] [--size-mb N] [--reps N]``). ``quick`` makes the bulk package 40 MB.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from _build import create, script
from _bulk import NAME as BULK
from _bulk import bulk_channel
from _rows import row, size_row, unpacked_bytes

SIZE_MB = 400
MODULES = 50
PROJECTS = ("bench-edit-alpha", "bench-edit-beta")
COMMAND = ["python", "-c", "pass"]


def run(
    workdir: Path, quick: bool = False, *, size_mb: int | None = None, reps: int | None = None
) -> list[dict[str, Any]]:
    """Measure the rows of the module docstring (see benchmarks/run.py)."""
    from poncho_testing import build_channel

    size_mb = size_mb or (40 if quick else SIZE_MB)
    reps = reps or (2 if quick else 3)
    channel = build_channel()
    bulk = bulk_channel(size_mb)
    project = workdir / "project"
    for name in PROJECTS:
        _local_project(project / name, name)
    spec = project / "spec.json"
    dependencies: list[Any] = ["python", "pip", BULK, {"pip": [f"./{p}" for p in PROJECTS]}]
    document = {"conda": {"channels": [bulk.as_uri(), channel.url], "dependencies": dependencies}}
    spec.write_text(json.dumps(document, indent=1))
    caches, options = workdir / "caches", ["--no-index"]

    old = workdir / "old.tar.gz"
    first = create(spec, old, caches, options)
    edited = _edit(project / PROJECTS[0])
    new = workdir / "new.tar.gz"
    rebuild = create(spec, new, caches, options)
    again = create(spec, workdir / "again.tar.gz", caches, options)
    if filecmp.cmp(old, new, shallow=False):
        raise RuntimeError(f"the edit of {edited} left the tarball as it was")
    warm, fresh = _runs(old, new, workdir, reps)
    label = f"edit loop ({size_mb} MB conda package + {len(PROJECTS)} local pip packages)"
    return [
        row(
            f"{label}: build after a one-line edit of a local package",
            rebuild,
            "first build, empty caches",
            first,
            f"target <= 0.2x, moonshot <= 0.1x; edited {edited.name}; caches warm",
        ),
        row(
            f"{label}: build again, nothing edited",
            again,
            "first build, empty caches",
            first,
            "a cache hit: no solve, no install, no pack",
        ),
        row(
            f"{label}: first run of the new tarball, worker folder holding the old one",
            warm,
            "same run, fresh worker folder",
            fresh,
            "node store target (issue 24): <= 0.5x; -u W/new beside W/old",
        ),
        size_row(
            f"{label}: tarball size, default level",
            new,
            "unpacked size (its files)",
            unpacked_bytes(new),
            "ratio = compressed / unpacked; half the bulk package is random bytes",
        ),
    ]


def _local_project(folder: Path, name: str) -> None:
    """A pip project (poncho-testing's offline in-tree backend) with `MODULES` modules."""
    from poncho_testing import make_local_project

    make_local_project(folder, name)
    package = folder / "src" / name.replace("-", "_")
    for i in range(MODULES):
        body = "".join(
            f"\n\ndef step_{j}(value: int) -> int:\n"
            f'    """Step {j} of module {i}."""\n'
            f"    return value * {j + 1} + {i}\n"
            for j in range(40)
        )
        (package / f"mod_{i:02d}.py").write_text(
            f'"""Module {i} of {name}."""\n\nVALUE = {i}\n{body}'
        )


def _edit(project: Path) -> Path:
    """Change one line of one module of `project` (as a user fixing a bug does)."""
    module = next((project / "src").glob("*/mod_17.py"))
    text = module.read_text()
    module.write_text(text.replace("VALUE = 17\n", "VALUE = 170\n", 1))
    return module


def _runs(old: Path, new: Path, workdir: Path, reps: int) -> tuple[float, float]:
    """Median seconds of the new tarball's first run beside the old one's DIR and in a
    fresh worker folder, alternated; the folders are removed after each repetition."""
    runner = script("poncho_package_run")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["TMPDIR"] = str(workdir / "tmp")
    (workdir / "tmp").mkdir(exist_ok=True)

    def call(*argv: str) -> None:
        subprocess.run([runner, *argv], env=env, check=True, stdout=subprocess.DEVNULL)

    warm: list[float] = []
    fresh: list[float] = []
    for rep in range(reps):
        worker = workdir / f"warm-worker{rep}"
        call("-e", str(old), "-u", str(worker / "old"))
        start = time.perf_counter()
        call("-e", str(new), "-u", str(worker / "new"), "--", *COMMAND)
        warm.append(time.perf_counter() - start)
        other = workdir / f"fresh-worker{rep}"
        start = time.perf_counter()
        call("-e", str(new), "-u", str(other / "new"), "--", *COMMAND)
        fresh.append(time.perf_counter() - start)
        for folder in (worker, other):
            shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(warm), statistics.median(fresh)


def _main() -> None:
    import argparse
    import tempfile

    from _rows import line

    parser = argparse.ArgumentParser(description="the edit-loop benchmark alone")
    parser.add_argument("--quick", action="store_true", help="a 40 MB bulk package")
    parser.add_argument("--size-mb", type=int, default=None, help="the bulk package's size")
    parser.add_argument("--reps", type=int, default=None, help="repetitions of the run rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="poncho-bench-edit-") as tmp:
        for found in run(Path(tmp), quick=args.quick, size_mb=args.size_mb, reps=args.reps):
            print(line(found), flush=True)


if __name__ == "__main__":
    _main()

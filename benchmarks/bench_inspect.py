"""Benchmarks of ``poncho inspect`` and ``poncho diff`` on a large indexed tarball.

The tarball is generated with poncho-core's `tarindex_write`, grouped as poncho-create
groups an environment (docs/dev/contracts.md, "Indexed tarballs"): 300 conda packages of
120 files each (a member per package, its files and its ``conda-meta`` record), a
``poncho`` member (spec, lock, ``bin/run_in_env``) and ``rest``: 36,305 files, ~510 MB
unpacked, ~310 MB of gzip (quick: 30 packages). File data is part random, part text, so it
compresses about as a mixed environment does and gzip has real work to do.

Rows, each the median of a few runs, measured in this run on the same file:

- ``poncho inspect`` (the command, a new process, as a user runs it) on the indexed tarball,
  against ``tar tzf`` listing it (issue 23 item 4's target: <= 0.2x);
- the same in-process (`poncho.inventory.read_inventory`: no interpreter start-up);
- ``poncho diff`` of it and a copy, against ``tar tzf`` of both;
- ``poncho inspect`` of the same bytes without the footer (an ordinary tar.gz: streamed),
  against ``tar tzf`` of it: what an older tarball costs.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_EPOCH = 315532800


def run(workdir: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Measure; see the module docstring."""
    from poncho.inventory import read_inventory
    from poncho_core.tarindex import GZIP_FOOTER

    reps = 3 if quick else 5
    packages, files = (30, 120) if quick else (300, 120)
    tarball = workdir / "large.tar.gz"
    started = time.perf_counter()
    _generate(tarball, packages, files)
    built = time.perf_counter() - started
    copy = workdir / "copy.tar.gz"
    shutil.copyfile(tarball, copy)
    plain = workdir / "plain.tar.gz"  # the same bytes without the footer: no index
    with tarball.open("rb") as source, plain.open("wb") as target:
        target.write(source.read(tarball.stat().st_size - GZIP_FOOTER))
    inventory = read_inventory(tarball)
    assert inventory.indexed and len(inventory.packages) == packages, inventory.path
    described = (
        f"{len(inventory.members)} members, {inventory.files:,} files, "
        f"{tarball.stat().st_size / 1e6:.0f} MB gzip, {inventory.unpacked_size / 1e6:.0f} MB "
        f"unpacked; generated in {built:.1f} s"
    )
    command = [sys.executable, "-m", "poncho"]
    tar = shutil.which("tar") or "tar"
    rows = []

    ours, base = _interleaved(
        lambda: _call([*command, "inspect", str(tarball)]),
        lambda: _call([tar, "tzf", str(tarball)]),
        reps,
    )
    rows.append(_row("inspect, indexed tarball (the command)", ours[0], "tar tzf", base[0],
                     f"{described}; target ratio <= 0.2"))  # fmt: skip
    rows.append(_row("inspect, indexed tarball (the command), CPU time", ours[1],
                     "tar tzf, CPU time (tar and gzip)", base[1],
                     "same runs; user + system: a quiet machine's wall time"))  # fmt: skip
    ours, base = _interleaved(
        lambda: read_inventory(tarball), lambda: _call([tar, "tzf", str(tarball)]), reps
    )
    rows.append(_row("inspect, indexed tarball (in-process read_inventory)", ours[0],
                     "tar tzf", base[0], "no interpreter start-up"))  # fmt: skip
    ours, base = _interleaved(
        lambda: _call([*command, "diff", str(tarball), str(copy)]),
        lambda: (_call([tar, "tzf", str(tarball)]), _call([tar, "tzf", str(copy)])),
        reps,
    )
    rows.append(_row("diff of two indexed tarballs (the command)", ours[0], "tar tzf of both",
                     base[0], "the same packages: exit 0"))  # fmt: skip
    ours, base = _interleaved(
        lambda: _call([*command, "inspect", str(plain)]),
        lambda: _call([tar, "tzf", str(plain)]),
        max(1, reps // 2),
    )
    rows.append(_row("inspect, the same without its footer (streamed)", ours[0], "tar tzf",
                     base[0], "an older tarball: read whole, as before"))  # fmt: skip
    return rows


def _generate(path: Path, packages: int, files: int) -> None:
    """Write the indexed tarball the module describes at `path`."""
    from poncho_core.tarindex_write import IndexedTarWriter

    pool = os.urandom(8 << 20)  # farther apart than gzip's window: no repeats found
    text = b"".join(b"def f_%d(value):\n    return value * %d\n" % (i, i) for i in range(400))
    lock: dict[str, Any] = {"lock_version": 1, "platform": "linux-64", "spec_hash": "0" * 64,
                            "channels": ["conda-forge"], "conda": [], "pip": []}  # fmt: skip
    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, "gzip", 1)
        for number in range(packages):
            name, version, build = f"package-{number:03d}", "1.0", "h0_0"
            paths = [f"lib/{name}/file{i:03d}.so" for i in range(files)]
            entries = []
            for i, file_path in enumerate(paths):
                size = 2_000 + (number * 7919 + i * 104_729) % 24_000
                start = (number * files + i) * 4099 % (len(pool) - size)
                cut = size * 3 // 5
                data = pool[start : start + cut] + (text * (size // len(text) + 1))[: size - cut]
                entries.append(_entry(file_path, data))
            meta = {"name": name, "version": version, "build": build, "subdir": "linux-64",
                    "channel": "conda-forge", "files": paths}  # fmt: skip
            entries.append(_entry(f"conda-meta/{name}-{version}-{build}.json",
                                  json.dumps(meta).encode()))  # fmt: skip
            lock["conda"].append({"name": name, "version": version, "build": build,
                                  "channel": "conda-forge", "url": "", "sha256": None})  # fmt: skip
            writer.add(f"conda/{name}-{version}-{build}", sorted(entries, key=_path))
        spec = {"conda": {"channels": ["conda-forge"], "dependencies": ["package-000"]}}
        created = [
            _entry("bin/run_in_env", b'#!/bin/sh\nexec "$@"\n', 0o755),
            _entry("poncho/lock.json", json.dumps(lock).encode()),
            _entry("poncho/spec.json", json.dumps(spec).encode()),
        ]
        writer.add("poncho", created)
        writer.add("rest", [_entry("README", b"generated\n")])
        writer.finish(_EPOCH)


def _entry(name: str, data: bytes, mode: int = 0o644) -> Any:
    from poncho_core.tarindex_write import Entry

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, _EPOCH
    return Entry(info, data=data, sha256=hashlib.sha256(data).hexdigest())


def _path(entry: Any) -> str:
    return str(entry.info.name)


def _call(argv: list[str]) -> None:
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if result.returncode not in (0, 1) or (result.returncode and "diff" not in argv):
        raise RuntimeError(f"{argv[:4]} failed: {result.stderr.decode()[-500:]}")


def _interleaved(
    ours: Callable[[], object], baseline: Callable[[], object], reps: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians of `reps` runs of each, alternating (a loaded machine's drift hits both):
    (wall, CPU) of ours, then of the baseline."""
    mine, theirs = [], []
    for _ in range(reps):
        mine.append(_timed(ours))
        theirs.append(_timed(baseline))
    return _medians(mine), _medians(theirs)


def _medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _timed(function: Callable[[], object]) -> tuple[float, float]:
    """Wall time, and CPU time (user + system) of this process and the processes it ran."""
    start, cpu = time.perf_counter(), _cpu()
    function()
    return time.perf_counter() - start, _cpu() - cpu


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _row(name: str, ours: float, baseline: str, base: float, note: str) -> dict[str, Any]:
    return {"benchmark": name, "ours_s": ours, "baseline": baseline, "baseline_s": base,
            "note": note}  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    with tempfile.TemporaryDirectory(prefix="poncho-bench-inspect-") as work:
        found = run(Path(work), quick="--quick" in sys.argv)
    print(table([{"area": "inspect", **row} for row in found]))

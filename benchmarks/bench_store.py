"""The node store of poncho_package_run: two environments sharing a large package, unpacked
side by side (``-u``) on one node (part ``store`` of bench_run.py).

Two indexed tarballs (poncho-core's layout, one member per package): a shared package of
about 200 MB (20 MB with ``quick``: generated modules and binary-like files) and a small
package of each environment's own. Rows:

- disk of both DIRs (each inode's blocks counted once) against one (target <= 1.15x);
- the second environment's first run (the store holds the shared package: its member is
  not decompressed) against the first's (target <= 0.5x);
- the first run with the store against ``--no-store`` (what filling the store costs);

and it checks that removing one DIR leaves the other intact (its files, its run).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import stat
import statistics
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

EPOCH = 315532800


def store_rows(
    workdir: Path, ours: list[str], env: dict[str, str], quick: bool, reps: int
) -> list[dict[str, Any]]:
    """The rows described in the module docstring."""
    shared_mb = 20 if quick else 200
    shared = _package("conda/shared-1.0-0", "lib/shared", shared_mb << 20, seed=1)
    tarballs = {
        name: _indexed(
            workdir / f"store-{name}.tar.gz",
            [shared, _package(f"conda/own-{name}", f"lib/own{name}", 4 << 20, seed=ord(name))],
        )
        for name in ("A", "B")
    }
    counter = iter(range(10**6))

    def unpack(name: str, parent: Path, *extra: str) -> float:
        start = time.perf_counter()
        argv = [*ours, *extra, "-e", str(tarballs[name]), "-u", str(parent / name), "--", "true"]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    first, second, plain, disk_one, disk_both = [], [], [], 0, 0
    for _ in range(reps):
        parent = workdir / f"node-{next(counter)}"
        parent.mkdir()
        first.append(unpack("A", parent))
        disk_one = _disk(parent / "A")
        second.append(unpack("B", parent))
        disk_both = _disk(parent / "A", parent / "B")
        _check_removal(parent, ours, env)
        alone = workdir / f"node-{next(counter)}"
        alone.mkdir()
        plain.append(unpack("A", alone, "--no-store"))
        shutil.rmtree(parent, ignore_errors=True)
        shutil.rmtree(alone, ignore_errors=True)
    label = f"store, two envs sharing a {shared_mb} MB package"
    return [
        _row(
            f"{label}: disk of both DIRs (GB, not s)",
            disk_both / 1e9,
            "disk of one DIR (GB)",
            disk_one / 1e9,
            "target <= 1.15x; st_blocks of each inode once",
        ),
        _row(
            f"{label}: first run of the second env",
            statistics.median(second),
            "first run of the first env, empty store",
            statistics.median(first),
            "target <= 0.5x; the shared member is linked from the store, not decompressed",
        ),
        _row(
            f"{label}: first run, filling the store",
            statistics.median(first),
            "first run, --no-store",
            statistics.median(plain),
            "what keeping the files costs (links, chmod, renames)",
        ),
    ]


def _check_removal(parent: Path, ours: list[str], env: dict[str, str]) -> None:
    """Remove DIR A: B's files and run must stay whole."""
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (parent / "B").rglob("*.so")}
    shutil.rmtree(parent / "A")
    subprocess.run([*ours, "-u", str(parent / "B"), "--", "true"], env=env, check=True)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (parent / "B").rglob("*.so")}
    if before != after or not before:
        raise RuntimeError("removing one DIR changed the other")


def _package(name: str, folder: str, size: int, seed: int) -> tuple[str, list[Any]]:
    """A member `name` of generated files under `folder`, `size` bytes in all: three in four
    text (compressible like source code), one in four binary-like (as .so files)."""
    from poncho_core.tarindex_write import Entry

    rnd = random.Random(seed)
    words = [f"word{i}" for i in range(200)] + ["def", "class", "return", "import", "self"]
    entries = [Entry(_info(folder, tarfile.DIRTYPE, 0o755, 0))]
    each = 100_000
    for i in range(size // each):
        if i % 4 == 3:
            data = rnd.randbytes(each // 2) + bytes(each // 2)
            path = f"{folder}/ext{i}.so"
        else:
            data = " ".join(rnd.choices(words, k=each // 6)).encode()[:each]
            path = f"{folder}/mod{i}.py"
        info = _info(path, tarfile.REGTYPE, 0o755 if path.endswith(".so") else 0o644, len(data))
        entries.append(Entry(info, data=data, sha256=hashlib.sha256(data).hexdigest()))
    return name, entries


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, EPOCH
    return info


def _indexed(path: Path, members: list[tuple[str, list[Any]]]) -> Path:
    from poncho_core.tarindex_write import IndexedTarWriter, member_key

    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, "gzip", 6)
        for name, entries in members:
            writer.add(name, entries, member_key(entries, "gzip", 6))
        writer.finish(EPOCH)
    return path


def _disk(*folders: Path) -> int:
    """Bytes on disk of the files under `folders`, each inode counted once."""
    seen: dict[tuple[int, int], int] = {}
    for folder in folders:
        for current, _dirs, files in os.walk(folder):
            for name in files:
                info = os.lstat(os.path.join(current, name))
                if stat.S_ISREG(info.st_mode):
                    seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
    return sum(seen.values())


def _row(name: str, ours: float, baseline: str, base: float, note: str) -> dict[str, Any]:
    return {"benchmark": name, "ours_s": ours, "baseline": baseline, "baseline_s": base,
            "note": note}  # fmt: skip

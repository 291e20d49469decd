"""Extraction of an indexed tarball by its index, members in parallel, against the one
stream extractor, on the same archive (issue 24 item 2).

A generated indexed tar.gz (poncho-core's layout, `poncho_core.tarindex_write`): a few
hundred members standing for conda packages, each a few dozen files of generated text
(source-like) with some random (binary-like) data, about ``--mb`` MB unpacked. For each
way, the best of ``--reps`` runs into a fresh folder (removed between runs, not timed):

- ``extract`` (the stream: one inflate thread, the reader, its small-file writers);
- ``extract_indexed`` with ``workers`` 1, 2, ... (``--workers``), and how it scales;
- the floor: every member inflated to nowhere, one thread (in-process, ISA-L when
  installed, as both extractors do).

Wall and CPU (user + system of this process) seconds. Alone: ``python
benchmarks/bench_extract_indexed.py [--mb 300] [--reps 3] [--workers 1,2] [--dir /tmp]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from poncho_core._inflate import deflate_module
from poncho_core.extract import extract
from poncho_core.extract_indexed import extract_indexed
from poncho_core.tarindex import read_index
from poncho_core.tarindex_write import Entry, IndexedTarWriter


def make_archive(path: Path, megabytes: int, seed: int = 7) -> tuple[int, int]:
    """Write the indexed archive; returns (files, unpacked bytes)."""
    rnd = random.Random(seed)
    words = [f"name{i}" for i in range(2000)] + ["def", "return", "import", "self", "(", ")"]
    corpus = " ".join(rnd.choice(words) for _ in range(400_000)).encode()  # ~3 MB of text
    files = total = 0
    budget = megabytes << 20
    number = 0
    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, "gzip", 6)
        while total < budget:
            entries = []
            for i in range(rnd.randint(10, 60)):
                if rnd.random() < 0.05:
                    data = rnd.randbytes(rnd.randint(10_000, 200_000))  # binary: libraries
                else:
                    size = rnd.choice([800, 3000, 12_000, 60_000])
                    start = rnd.randrange(len(corpus) - size)
                    data = corpus[start : start + size]
                info = tarfile.TarInfo(f"pkg{number}/lib/f{i}.py")
                info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
                sha = hashlib.sha256(data).hexdigest()
                entries.append(Entry(info, data=data, sha256=sha))
                files += 1
                total += len(data)
            writer.add(f"conda/pkg{number}", entries)
            number += 1
        writer.finish(1_600_000_000)
    return files, total


def timed(action: object, dest: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `action(dest)` into a fresh folder."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    cpu = time.process_time()
    wall = time.perf_counter()
    action(dest)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def inflate_all(archive: Path) -> None:
    """Every member inflated to nowhere (the floor)."""
    module = deflate_module()
    index = read_index(archive)
    assert index is not None
    with archive.open("rb") as handle:
        for member in index.members:
            handle.seek(member.offset)
            obj = module.decompressobj(31)
            left = member.size
            while left:
                chunk = handle.read(min(left, 1 << 20))
                left -= len(chunk)
                while chunk:
                    obj.decompress(chunk, 8 << 20)
                    chunk = obj.unconsumed_tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-indexed-", dir=args.dir))
    try:
        archive = work / "env.tar.gz"
        started = time.perf_counter()
        files, total = make_archive(archive, args.mb)
        index = read_index(archive)
        assert index is not None
        print(
            f"archive: {len(index.members)} members, {files} files, {total / 1e6:.0f} MB "
            f"unpacked, {archive.stat().st_size / 1e6:.0f} MB gzip "
            f"({time.perf_counter() - started:.1f} s to write); deflate: "
            f"{deflate_module().__name__}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}"
        )
        ways = {"extract (stream)": lambda d: extract(archive, d)}
        for count in (int(w) for w in args.workers.split(",")):
            ways[f"extract_indexed workers={count}"] = lambda d, c=count: extract_indexed(
                archive, d, index, workers=c
            )
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        floor: list[float] = []
        for _ in range(args.reps):  # alternated, so that every way sees the same load
            for name, action in ways.items():
                results[name].append(timed(action, work / "dest"))
            start = time.perf_counter()
            inflate_all(archive)
            floor.append(time.perf_counter() - start)
        base = min(w for w, _ in results["extract (stream)"])
        print(f"floor (inflate every member, 1 thread): {min(floor):.2f} s")
        for name, runs in results.items():
            wall = min(w for w, _ in runs)
            cpu = min(c for _, c in runs)
            print(f"{name}: {wall:.2f} s wall (x{wall / base:.2f}), {cpu:.2f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

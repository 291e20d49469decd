"""A large conda package for the edit-loop benchmark, in a channel of its own.

``poncho-bench-bulk`` is a noarch:python package written with poncho-testing's package
helpers: ``size_mb`` MB of data files under ``site-packages/poncho_bench_bulk/``, half random
bytes (incompressible, like the binaries of a numerical library) and half generated
source-like text (compressible), 4 MB a file. It stands for the large conda package an
environment being edited keeps unchanged (a CUDA runtime, a compiler, a model's weights).

The channel is built once (~10 s) into the benchmarks' cache, by size, and reused; it is
listed before the local channel in the spec (the shared local channel is never written to:
the tests of other sessions read it).
"""

from __future__ import annotations

import builtins
import keyword
import random
from pathlib import Path

from _build import bench_cache

NAME = "poncho-bench-bulk"
VERSION = "1.0.0"
_FILE_MB = 4
#: Bump when the package's content changes (it is part of the cache key).
_BUILDER = "1"
_WORDS = [*keyword.kwlist, *(name for name in dir(builtins) if name.islower())]


def bulk_channel(size_mb: int) -> Path:
    """The folder of a channel holding ``poncho-bench-bulk`` of about `size_mb` MB."""
    from poncho_testing._cache import cached_dir

    key = f"channel-bulk-{size_mb}MB-v{_BUILDER}"
    return cached_dir(bench_cache(), key, lambda tmp: _build(tmp, size_mb))


def _build(path: Path, size_mb: int) -> None:
    from rattler.index import index_fs

    from poncho_testing._aio import run_sync
    from poncho_testing._noarch import noarch_python_package

    rnd = random.Random(size_mb)
    files = {"poncho_bench_bulk/__init__.py": b'"""Bulk data for the edit-loop benchmark."""\n'}
    count = max(2, size_mb // _FILE_MB)
    size = size_mb * 1_000_000 // count
    for i in range(count):
        if i % 2:
            files[f"poncho_bench_bulk/data/text{i:03d}.txt"] = _text(rnd, size)
        else:
            files[f"poncho_bench_bulk/data/blob{i:03d}.bin"] = rnd.randbytes(size)
    noarch_python_package(NAME, VERSION, files, path / "noarch", summary="benchmark bulk")
    (path / "linux-64").mkdir()  # an empty platform subdir: solvers ask for its repodata
    run_sync(index_fs(path, write_zst=False, write_shards=False, force=True))


def _text(rnd: random.Random, size: int) -> bytes:
    """`size` bytes of words in lines, compressing about as source code does."""
    words = rnd.choices(_WORDS, k=size // 5)
    for at in range(12, len(words), 12):
        words[at] = "\n" + words[at]
    return " ".join(words).encode()[:size]

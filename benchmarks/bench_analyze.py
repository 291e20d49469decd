"""Benchmark: finding the imports of a big installed tree, against ``ast.parse`` + walk.

The tree is pip's own sources (with its vendored packages) plus setuptools when they can
be found (in this environment, else in the base interpreter's site-packages), else the
standard library.  Rows, each measured in this run on the same files (median of a few
repetitions):

- ``poncho_analyze.scan_files`` in one process: libcst parses only the skeleton of each
  file (the statements that may import, with their enclosing headers; see
  ``poncho_analyze._scanner``), in one parse per file, walked by hand;
- the same with the default process pool (one worker per core on large inputs);
- naive libcst (``parse_module`` of whole files + a visitor) on a sample, to show what the
  pruning saves.

The baseline is ``ast.parse`` + ``ast.walk`` collecting Import/ImportFrom nodes, one core.
"""

from __future__ import annotations

import ast
import importlib.util
import pathlib
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable


def _tree_files() -> tuple[str, list[pathlib.Path]]:
    roots: list[pathlib.Path] = []
    base_purelib = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})[
        "purelib"
    ]
    for name in ("pip", "setuptools"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots.append(pathlib.Path(next(iter(spec.submodule_search_locations))))
        elif (pathlib.Path(base_purelib) / name).is_dir():
            roots.append(pathlib.Path(base_purelib) / name)
    label = "+".join(r.name for r in roots)
    if not roots:
        roots = [pathlib.Path(sysconfig.get_paths()["stdlib"])]
        label = "stdlib"
    files = sorted(p for root in roots for p in root.rglob("*.py"))
    return label, files


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _ast_walk(texts: list[bytes]) -> int:
    found = 0
    for text in texts:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        found += sum(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
    return found


def _naive_libcst(texts: list[bytes]) -> int:
    import libcst as cst

    class Visitor(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.found = 0

        def visit_Import(self, node: cst.Import) -> None:
            self.found += 1

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            self.found += 1

    visitor = Visitor()
    for text in texts:
        try:
            cst.parse_module(text).visit(visitor)
        except cst.ParserSyntaxError:
            continue
    return visitor.found


def run(workdir: pathlib.Path, quick: bool = False) -> list[dict[str, object]]:
    """Measure and return the rows (see the module docstring)."""
    from poncho_analyze import scan_files

    label, files = _tree_files()
    if quick:
        files = files[::6]
    texts = [f.read_bytes() for f in files]
    size_mb = sum(map(len, texts)) / 1e6
    repeat = 1 if quick else 3
    what = f"{len(files)} files, {size_mb:.1f} MB of {label}"

    base_s = _median(lambda: _ast_walk(texts), repeat)
    one_s = _median(lambda: scan_files(files, workers=1), repeat)
    pool_s = _median(lambda: scan_files(files), repeat)
    sample = texts[:: 8 if not quick else 4]
    sample_mb = sum(map(len, sample)) / 1e6
    naive_s = _median(lambda: _naive_libcst(sample), 1)
    sample_base_s = _median(lambda: _ast_walk(sample), repeat)

    def rate(seconds: float, mb: float) -> str:
        return f"{mb / seconds:.2f} MB/s"

    return [
        {
            "benchmark": "analyze: find imports, 1 process (skeleton + libcst)",
            "ours_s": round(one_s, 3),
            "baseline": "ast.parse + ast.walk, same files, 1 core",
            "baseline_s": round(base_s, 3),
            "note": f"{what}; ours {rate(one_s, size_mb)}, ast {rate(base_s, size_mb)}",
        },
        {
            "benchmark": "analyze: find imports, default process pool",
            "ours_s": round(pool_s, 3),
            "baseline": "ast.parse + ast.walk, same files, 1 core",
            "baseline_s": round(base_s, 3),
            "note": f"{what}; ours {rate(pool_s, size_mb)}",
        },
        {
            "benchmark": "analyze: naive libcst (whole parse + visitor)",
            "ours_s": round(naive_s, 3),
            "baseline": "ast.parse + ast.walk, same sample, 1 core",
            "baseline_s": round(sample_base_s, 3),
            "note": (
                f"sample of {len(sample)} files, {sample_mb:.2f} MB; "
                f"naive {rate(naive_s, sample_mb)}"
            ),
        },
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for row in run(pathlib.Path(tmp), quick="--quick" in sys.argv):
            print(row)

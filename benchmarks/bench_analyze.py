"""Benchmarks of poncho_package_analyze.

1. The command on real-world-shaped scripts, per file, in a real environment of about 80
   distributions, against ``pipreqs --use-local`` and fawltydeps on the same files,
   interleaved in one run (issue 15's target: median per-file time <= 0.5x pipreqs).
   The environment is a virtual environment made once with pip from PyPI and kept in
   ``$PONCHO_BENCH_CACHE`` (default ``~/.cache/poncho-bench``); pipreqs and fawltydeps are
   installed there, never into the test world.  Ours runs from the benchmark's Python,
   with the environment activated (``VIRTUAL_ENV``), as a user with poncho installed
   elsewhere runs it; warm means its per-environment cache is filled (cold: emptied
   before each call).  The scripts are the corpus of ``packages/poncho-analyze/tests/
   data/corpus`` (written for poncho; the Python 2 one is left out: pipreqs fails on it).
   Every command runs without ``PYTHONDONTWRITEBYTECODE``: the peers were installed by
   pip, which compiles their byte-code, and ours may be installed by uv (which does not)
   or run from sources; with the variable set, ours alone would compile all its modules
   on every call.  With ``PONCHO_BENCH_ANALYZE_BEFORE`` set to a ``PYTHONPATH`` holding
   another copy of poncho-analyze and poncho-spec (an older commit's ``src`` folders),
   that copy is timed too, interleaved, as the row "before".

2. Finding the imports of a big installed tree, against ``ast.parse`` + walk.

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


ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "packages" / "poncho-analyze" / "tests" / "data" / "corpus"
ENV_VERSION = "1"
#: What the environment gets (pip resolves the rest): about 80 distributions in all.
ENV_PACKAGES = [
    "pipreqs", "fawltydeps", "numpy", "pandas", "requests", "pyyaml", "click", "tqdm",
    "dask[distributed]", "protobuf", "boto3", "attrs", "rich", "jinja2", "flask", "sqlalchemy",
    "python-dateutil", "matplotlib", "scikit-learn", "pytest", "httpx", "beautifulsoup4",
    "networkx", "tabulate",
]  # fmt: skip


def _bench_env() -> pathlib.Path | str:
    """The venv of the command benchmark (made once), or why there is none."""
    import hashlib
    import os
    import subprocess

    base = pathlib.Path(os.environ.get("PONCHO_BENCH_CACHE") or "~/.cache/poncho-bench")
    key = hashlib.sha256(" ".join([ENV_VERSION, *ENV_PACKAGES]).encode()).hexdigest()[:12]
    venv = base.expanduser() / f"analyze-env-{key}"
    done = venv / ".complete"
    if done.exists():
        return venv
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        *ENV_PACKAGES], check=True, capture_output=True, timeout=1800)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return f"cannot make the environment: {exc} {detail.decode(errors='replace')[-300:]}"
    done.write_text("")
    return venv


#: CPU time (user + system) of each command, by name: on a loaded machine the wall time
#: mostly measures the wait for a core, the CPU time what the command itself costs.
CPU: dict[str, list[float]] = {}


def _timed(argv: list[str], env: dict[str, str], cwd: pathlib.Path, name: str = "") -> float:
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, timeout=600)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if name:
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        CPU.setdefault(name, []).append(used)
    return wall


def _command_rows(workdir: pathlib.Path, quick: bool) -> list[dict[str, object]]:
    import os
    import shutil

    venv = _bench_env()
    if isinstance(venv, str):
        return [{"benchmark": "analyze: per-file command time (skipped)", "ours_s": 0.0,
                 "baseline": "pipreqs --use-local", "baseline_s": 0.0, "note": venv}]  # fmt: skip
    count = sum(1 for p in next(venv.glob("lib/python3*/site-packages")).iterdir()
                if p.name.endswith(".dist-info"))  # fmt: skip
    scripts = sorted(p for p in CORPUS.rglob("*.py") if p.name != "legacy_report.py")
    if quick:
        scripts = scripts[::3]
    cache = workdir / "map-cache"
    unset = ("CONDA_PREFIX", "PYTHONDONTWRITEBYTECODE")
    base_env = {k: v for k, v in os.environ.items() if k not in unset}
    ours_env = {**base_env, "VIRTUAL_ENV": str(venv), "PONCHO_ANALYZE_CACHE": str(cache)}
    before = os.environ.get("PONCHO_BENCH_ANALYZE_BEFORE")
    before_env = {**ours_env, "PYTHONPATH": before or "",
                  "PONCHO_ANALYZE_CACHE": str(workdir / "map-cache-before")}  # fmt: skip
    base_env.pop("PYTHONPATH", None)  # ours may run from sources; the peers from the venv
    peer_env = {**base_env, "VIRTUAL_ENV": str(venv),
                "PATH": f"{venv / 'bin'}{os.pathsep}{base_env.get('PATH', '')}"}  # fmt: skip
    ours_cmd = [sys.executable, "-m", "poncho_analyze", "-q"]
    times: dict[str, list[float]] = {"ours": [], "cold": [], "pipreqs": [], "fawltydeps": [],
                                     "before": []}  # fmt: skip
    folders = []
    for i, script in enumerate(scripts):  # pipreqs reads folders: one per script
        folder = workdir / f"script-{i}"
        folder.mkdir()
        shutil.copy(script, folder / script.name)
        (folder / "requirements.txt").write_text("")
        folders.append((folder, folder / script.name))
    _timed([*ours_cmd, str(folders[0][1]), "-"], ours_env, workdir)  # fill the cache
    if before:
        _timed([*ours_cmd, str(folders[0][1]), "-"], before_env, workdir)
    for _ in range(1 if quick else 3):
        for folder, script in folders:
            times["ours"].append(_timed([*ours_cmd, str(script), "-"], ours_env, folder, "ours"))
            if before:
                argv = [*ours_cmd, str(script), "-"]
                times["before"].append(_timed(argv, before_env, folder, "before"))
            times["pipreqs"].append(_timed(
                [str(venv / "bin" / "pipreqs"), "--use-local", "--print", str(folder)],
                peer_env, folder, "pipreqs"))  # fmt: skip
            times["fawltydeps"].append(_timed(
                [str(venv / "bin" / "fawltydeps"), "--check-undeclared", "--code", str(script),
                 "--deps", str(folder / "requirements.txt"), "--pyenv", str(venv)],
                peer_env, folder))  # fmt: skip
            shutil.rmtree(cache, ignore_errors=True)
            times["cold"].append(_timed([*ours_cmd, str(script), "-"], ours_env, folder))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    low = {k: min(v) for k, v in times.items() if v}
    # The fastest run of each is the least disturbed by other load on the machine.
    what = (f"median per file, {len(folders)} real-world-shaped scripts, {count} distributions, "
            f"{len(times['ours'])} runs each, interleaved; target ratio <= 0.5; fastest runs: "
            f"ours {low['ours']:.3f} s, pipreqs {low['pipreqs']:.3f} s "
            f"(ratio {low['ours'] / low['pipreqs']:.2f}), "
            f"fawltydeps {low['fawltydeps']:.3f} s")  # fmt: skip
    cpu = {k: statistics.median(v) for k, v in CPU.items() if v}
    CPU.clear()
    rows: list[dict[str, object]] = [
        {"benchmark": "analyze: per-file command, warm cache, CPU time (user+system)",
         "ours_s": round(cpu["ours"], 4), "baseline": "pipreqs --use-local",
         "baseline_s": round(cpu["pipreqs"], 4),
         "note": "same runs; median CPU time of each command (what it costs, whatever the "
                 "wait for a core on a loaded machine)"
                 + (f"; before {cpu['before']:.4f} s" if "before" in cpu else "")},
    ]  # fmt: skip
    if before:
        rows.append({"benchmark": "analyze: per-file command, warm cache",
                     "ours_s": round(med["ours"], 4), "baseline": f"ours before ({before})",
                     "baseline_s": round(med["before"], 4),
                     "note": f"same runs; before/pipreqs {med['before'] / med['pipreqs']:.2f}, "
                             f"fastest runs {low['before']:.3f} s"})  # fmt: skip
    return [
        {"benchmark": "analyze: per-file command, warm cache", "ours_s": round(med["ours"], 4),
         "baseline": "pipreqs --use-local", "baseline_s": round(med["pipreqs"], 4),
         "note": what},
        *rows,
        {"benchmark": "analyze: per-file command, warm cache", "ours_s": round(med["ours"], 4),
         "baseline": "fawltydeps --check-undeclared", "baseline_s": round(med["fawltydeps"], 4),
         "note": "same runs"},
        {"benchmark": "analyze: per-file command, cold cache (first run in the environment)",
         "ours_s": round(med["cold"], 4), "baseline": "pipreqs --use-local",
         "baseline_s": round(med["pipreqs"], 4), "note": "same runs"},
    ]  # fmt: skip


def run(workdir: pathlib.Path, quick: bool = False) -> list[dict[str, object]]:
    """Measure and return the rows (see the module docstring)."""
    from poncho_analyze import scan_files

    command_rows = _command_rows(workdir, quick)

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
        *command_rows,
        {
            "benchmark": "analyze: find imports, 1 process (ast walk)",
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

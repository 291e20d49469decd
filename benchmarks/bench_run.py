"""poncho_package_run against CCTools' own runner and against the bare command.

Side by side, in one run, with the same tarballs: ours is the ``poncho_package_run`` script
as ``pip install poncho-run`` leaves it (POSIX sh front end + engine), the original is
CCTools' ``python_package_run`` from Debian's ``coop-computing-tools`` (its bash runner: tar,
flock, conda-unpack, bin/activate; installed with apt-get when missing, never vendored).

Two real conda-pack tarballs (poncho-testing, local channel): the demo environment (python,
poncho-demo-app, poncho-demo-activate) and a large one, the demo plus generated
site-packages padding (tens of thousands of files, a few hundred MB unpacked; ``quick``
makes it small). A third, the real environment (part ``real``, left out by ``quick``): the
local channel's python and pip plus numpy, scipy, pandas, scikit-learn and matplotlib from
PyPI, built by ``poncho_package_create`` at its default level from a wheelhouse downloaded
once (see ``_realenv``; skipped, with one line saying why, without network or wheelhouse);
its rows are warm and cold (with the floor) and its tarball's size. For each:

- warm run: ``poncho_package_run -u <ready DIR> -- python -c pass`` against
  ``python -c pass`` with the environment's bin first on PATH (target: <= 1.3x);
- cold run in a temporary folder (no ``-u``): ours against the original (target: <= 0.5x on
  the large environment, moonshot <= 0.4x; <= 0.9x on the demo);
- the floor of a cold run, measured in the same run: the tarball inflated in-process to
  nowhere (against GNU ``gzip -dc``), and ``tar xf`` of the decompressed archive; our cold
  run against the larger of the two;
- 16 simultaneous first runs on one DIR against one cold run of ours (target: <= 1.5x);
- (demo only) a warm run of an environment whose spec names data against the same
  environment without (target: <= 5 ms more);
- (part ``store``, bench_store.py) two environments sharing a large package unpacked side
  by side through the node store: disk, and the second's first run against the first's.

Each figure is the median of a few repetitions, ours and the baseline alternated so both see
the same load, with warm file caches. Alone: ``python benchmarks/bench_run.py [--quick]
[--parts demo,large,real,data] [--rows warm,cold,simultaneous] [--reps N]`` (one line per row:
ratio, seconds, name).
"""

from __future__ import annotations

import builtins
import json
import keyword
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _rows import line, size_row, skipped, unpacked_bytes
from _rows import row as _row

DEMO_SPECS = ["python", "poncho-demo-app", "poncho-demo-activate"]
COMMAND = ["python", "-c", "pass"]
SIMULTANEOUS = 16

# Words of generated "source code": Python keywords and builtin names.
_WORDS = [*keyword.kwlist, *(name for name in dir(builtins) if name.islower())]


PARTS = ("demo", "large", "real", "data", "store")
ROWS = ("warm", "cold", "simultaneous")


def run(
    workdir: Path,
    quick: bool = False,
    *,
    parts: tuple[str, ...] = PARTS,
    rows: tuple[str, ...] = ROWS,
    reps: int | None = None,
) -> list[dict[str, Any]]:
    """Measure the rows described in the module docstring (see benchmarks/run.py).

    `parts` chooses the environments (demo, large, real) and the data row; `rows` the
    measurements of each environment (warm, cold, simultaneous); `reps` overrides the number
    of repetitions (2 with `quick`, else 3; warm runs take more, and the demo env's rows,
    which last about a second and move by a third from run to run here, three times more)."""
    from poncho_testing import build_channel, build_env_tarball

    reps = reps or (2 if quick else 3)
    conda = {"demo", "large", "data"} & set(parts)
    channel = build_channel() if conda or "real" in parts else None
    demo = build_env_tarball(channel, DEMO_SPECS, workdir / "demo.tar.gz") if conda else None
    ours = _ours()
    original = _original() if {"demo", "large", "real"} & set(parts) else []
    env = _environment(workdir)
    found: list[dict[str, Any]] = []
    if "demo" in parts:
        found += _measure("demo env", demo, ours, original, env, workdir, reps * 3, rows)
    if "large" in parts:
        files, size = (2_000, 6_000) if quick else (30_000, 10_000)
        site = "lib/python{}.{}/site-packages".format(*channel.python_version.split(".")[:2])
        padding = _padding(site, files, size)
        large = build_env_tarball(
            channel, DEMO_SPECS, workdir / "large.tar.gz", extra_files=padding
        )
        label = f"large env ({_describe(large)})"
        found += _measure(label, large, ours, original, env, workdir, reps, rows)
    if "real" in parts:
        found += _real(channel, workdir, ours, original, env, reps, quick, rows)
    if "data" in parts:
        found.append(_data_row(channel, workdir, ours, env, reps))
    if "store" in parts:
        from bench_store import store_rows

        found += store_rows(workdir, ours, env, quick, reps)
    return found


def _real(
    channel: Any,
    workdir: Path,
    ours: list[str],
    original: list[str],
    env: dict[str, str],
    reps: int,
    quick: bool,
    rows: tuple[str, ...],
) -> list[dict[str, Any]]:
    """The real environment's warm and cold rows (16 simultaneous runs are left out: the
    large env has them) and its tarball's size against its unpacked size."""
    from _build import Unavailable
    from _realenv import build_real_env

    name = "real env (python + numpy, scipy, pandas, scikit-learn, matplotlib from PyPI)"
    if quick:
        return [skipped(name, "left out by --quick (PyPI wheels, ~0.5 GB unpacked)")]
    try:
        real, built = build_real_env(channel, workdir)
    except Unavailable as exc:
        return [skipped(name, str(exc))]
    label = f"real env ({_describe(real)})"
    which = tuple(r for r in rows if r != "simultaneous")
    found = _measure(label, real, ours, original, env, workdir, reps, which)
    found.append(
        size_row(
            f"{label}: tarball size, poncho_package_create default level",
            real,
            "unpacked size (its files)",
            unpacked_bytes(real),
            f"ratio = compressed / unpacked; built in {built:.1f} s from empty caches",
        )
    )
    return found


def _measure(
    label: str,
    tarball: Path,
    ours: list[str],
    original: list[str],
    env: dict[str, str],
    workdir: Path,
    reps: int,
    which: tuple[str, ...] = ROWS,
) -> list[dict[str, Any]]:
    counter = iter(range(10**6))

    def fresh() -> Path:
        return workdir / f"{tarball.stem}-{next(counter)}"

    def ours_cold() -> None:
        _call([*ours, "-e", str(tarball), "-u", str(fresh()), "--", *COMMAND], env)

    def ours_temporary() -> None:
        _call([*ours, "-e", str(tarball), "--", *COMMAND], env)

    def original_temporary() -> None:
        _call([*original, "-e", str(tarball), "--", *COMMAND], env)

    ready = fresh()
    _call([*ours, "-e", str(tarball), "-u", str(ready)], env)
    bare_env = _with_path(env, ready)

    def ours_warm() -> None:
        _call([*ours, "-u", str(ready), "--", *COMMAND], env)

    def bare_warm() -> None:
        _call(COMMAND, bare_env)

    original_ready = fresh()
    _call([*original, "-e", str(tarball), "-u", str(original_ready), "--", "true"], env)

    def original_warm() -> None:
        _call([*original, "-e", str(tarball), "-u", str(original_ready), "--", *COMMAND], env)

    def ours_simultaneous() -> None:
        shared = fresh()
        argv = [*ours, "-e", str(tarball), "-u", str(shared), "--", *COMMAND]
        procs = [
            subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL) for _ in range(SIMULTANEOUS)
        ]
        if any(proc.wait() != 0 for proc in procs):
            raise RuntimeError(f"a simultaneous run failed: {argv}")

    rows: list[dict[str, Any]] = []
    if "warm" in which:
        warm, bare = _median_pair(ours_warm, bare_warm, max(reps, 5) * 2)
        original_warm_s, bare_again = _median_pair(original_warm, bare_warm, max(reps, 5))
        rows += [
            _row(
                f"{label}: warm run, -u ready DIR",
                warm,
                "bare command, same PATH",
                bare,
                f"target <= 1.3x; overhead {1000 * (warm - bare):.1f} ms; pure sh, then exec",
            ),
            _row(
                f"{label}: warm run of the original (for reference)",
                original_warm_s,
                "bare command, same PATH",
                bare_again,
                "CCTools python_package_run -u ready DIR",
            ),
        ]
    if "cold" in which:
        cpu: list[float] = []
        temporary, original_s = _median_pair(
            ours_temporary, original_temporary, reps, cpu, settle=True
        )
        rows += [
            _row(
                f"{label}: cold run, temporary folder",
                temporary,
                "CCTools python_package_run, same",
                original_s,
                "target <= 0.5x (large), <= 0.9x (demo); sync before each run",
            ),
            _row(
                f"{label}: cold run, temporary folder, user CPU",
                cpu[0],
                "CCTools python_package_run, same",
                cpu[1],
                "user CPU seconds of all the processes of a run (the kernel's time, writing "
                "files, is left out: it moves most from run to run on a loaded machine)",
            ),
        ]
        rows += _floor_rows(label, tarball, workdir, temporary, reps)
    if "simultaneous" in which:
        together, one = _median_pair(ours_simultaneous, ours_cold, reps, settle=True)
        rows.append(
            _row(
                f"{label}: {SIMULTANEOUS} simultaneous first runs, one DIR",
                together,
                "one cold run of ours, -u fresh DIR",
                one,
                "target <= 1.5x; wall time; one extraction, the others wait then exec",
            )
        )
    return rows


def _floor_rows(
    label: str, tarball: Path, workdir: Path, cold: float, reps: int
) -> list[dict[str, Any]]:
    """The floor of a cold run, measured here: inflating the tarball in-process to nowhere
    (with the deflate module our engine uses) and ``tar xf`` of the decompressed archive
    (page cache warm, into a fresh folder beside ours); ours against the larger of the two."""
    try:
        from poncho_core._inflate import deflate_module

        module = deflate_module()
    except ImportError:  # a poncho-core from before the in-process inflate
        import zlib as module
    plain = workdir / f"{tarball.stem}.plain.tar"
    with plain.open("wb") as out:
        subprocess.run(["gzip", "-dc", str(tarball)], stdout=out, check=True)
    counter = iter(range(10**6))

    def inflate() -> None:
        with tarball.open("rb", buffering=0) as raw:
            member = module.decompressobj(31)  # gzip
            while data := raw.read(1 << 20):
                member.decompress(data)
                while member.eof and member.unused_data:  # the next gzip member
                    data, member = member.unused_data, module.decompressobj(31)
                    member.decompress(data)

    def gzip_dc() -> None:
        with tarball.open("rb") as raw:
            subprocess.run(["gzip", "-dc"], stdin=raw, stdout=subprocess.DEVNULL, check=True)

    def tar_xf() -> None:
        folder = workdir / f"{tarball.stem}-floor-{next(counter)}"
        folder.mkdir()
        subprocess.run(["tar", "xf", str(plain), "-C", str(folder)], check=True)

    inflate_s, gzip_s = _median_pair(inflate, gzip_dc, reps)
    tar_s = statistics.median(_timed(tar_xf, settle=True) for _ in range(reps))
    floor = max(inflate_s, tar_s)
    name = module.__name__
    return [
        _row(
            f"{label}: floor, in-process inflate to nowhere ({name})",
            inflate_s,
            "GNU gzip -dc to /dev/null",
            gzip_s,
            "what tar xzf and CCTools' runner decompress with",
        ),
        _row(
            f"{label}: cold run, temporary folder, against the floor",
            cold,
            "floor: max(inflate, tar xf of the decompressed archive)",
            floor,
            f"inflate {inflate_s:.2f} s ({name}), tar xf {tar_s:.2f} s; ours also relocates, "
            "runs the command and removes the folder",
        ),
    ]


def _timed(function: Callable[[], None], settle: bool = False) -> float:
    if settle:
        os.sync()  # as before each cold run (_median_pair)
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _data_row(
    channel: Any, workdir: Path, ours: list[str], env: dict[str, str], reps: int
) -> dict[str, Any]:
    """Warm run of the demo environment with a spec naming one http file, against the same
    environment without data (both DIRs ready, the data already in the cache)."""
    from poncho_testing import build_env_tarball, serve_directory

    served = workdir / "served"
    served.mkdir()
    (served / "data.txt").write_text("data\n")
    cache = workdir / "data-cache"
    with serve_directory(served) as url:
        spec = {"http": {"BENCH_DATA": {"url": f"{url}/data.txt", "type": "file"}}}
        with_data = build_env_tarball(
            channel,
            DEMO_SPECS,
            workdir / "with-data.tar.gz",
            extra_files={"poncho/spec.json": json.dumps(spec)},
        )
        plain, data = workdir / "plain-ready", workdir / "data-ready"
        data_env = {**env, "PONCHO_FETCH_CACHE": str(cache)}
        _call([*ours, "-e", str(with_data), "-u", str(data)], data_env)
        _call([*ours, "-u", str(data), "--", *COMMAND], data_env)  # fetched once
        demo = workdir / "demo.tar.gz"
        _call([*ours, "-e", str(demo), "-u", str(plain)], env)
    with_s, without_s = _median_pair(
        lambda: _call([*ours, "-u", str(data), "--", *COMMAND], data_env),
        lambda: _call([*ours, "-u", str(plain), "--", *COMMAND], env),
        max(reps, 5) * 2,
    )
    return _row(
        "demo env: warm run, spec names data (cached)",
        with_s,
        "same without data",
        without_s,
        f"target <= 5 ms more; measured {1000 * (with_s - without_s):.1f} ms more",
    )


def _median_pair(
    ours: Callable[[], None],
    baseline: Callable[[], None],
    reps: int,
    cpu: list[float] | None = None,
    settle: bool = False,
) -> tuple[float, float]:
    """Median seconds of each, alternating them so that both see the same machine load;
    with `cpu`, the median user CPU seconds of the processes each started are appended to
    it (ours, then the baseline's): the part of a cold run that is not the kernel's. With
    `settle`, ``sync`` runs (untimed) before each: a cold run then starts as on a node
    whose disk is idle, not while the kernel still writes back the previous run's files."""
    times: tuple[list[float], list[float]] = ([], [])
    user: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for index, function in enumerate((ours, baseline)):
            if settle:
                os.sync()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            start = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - start)
            user[index].append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before)
    if cpu is not None:
        cpu += [statistics.median(user[0]), statistics.median(user[1])]
    return statistics.median(times[0]), statistics.median(times[1])


def _call(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)


def _ours() -> list[str]:
    """poncho_package_run as pip leaves it: the script next to this Python."""
    script = Path(sys.executable).with_name("poncho_package_run")
    if not script.exists():
        raise RuntimeError(f"{script}: missing; pip install ./packages/poncho-run first")
    return [str(script)]


def _original() -> list[str]:
    """CCTools' runner: Debian's coop-computing-tools (installed when missing, as root)."""
    found = shutil.which("python_package_run", path="/usr/bin")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "coop-computing-tools"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        found = shutil.which("python_package_run", path="/usr/bin")
    if found is None:
        raise RuntimeError("CCTools' python_package_run: apt-get install coop-computing-tools")
    return [found]


def _environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # let the wrapper's .pyc files be written once
    temp = workdir / "tmp"
    temp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(temp)
    return env


def _with_path(env: dict[str, str], prefix: Path) -> dict[str, str]:
    return {**env, "PATH": f"{prefix}/bin{os.pathsep}{env.get('PATH', os.defpath)}"}


def _padding(site: str, files: int, size: int) -> dict[str, bytes]:
    """`files` generated modules of about `size` bytes in 100 packages under `site`: text
    that compresses like source code, with one file in four binary-like (as .so files)."""
    rnd = random.Random(0)
    out = {}
    for i in range(files):
        folder = f"{site}/padpkg{i % 100}/sub{i % 7}"
        if i % 4 == 3:
            out[f"{folder}/ext{i}.so"] = rnd.randbytes(size // 2) + bytes(size // 2)
        else:
            words = rnd.choices(_WORDS, k=size // 6)
            out[f"{folder}/mod{i}.py"] = " ".join(words).encode()
    return out


def _describe(tarball: Path) -> str:
    import tarfile

    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    unpacked = sum(m.size for m in members)
    return f"{len(members):,} files, {unpacked / 1e6:.0f} MB"


def _main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="poncho_package_run benchmarks alone")
    parser.add_argument("--quick", action="store_true", help="small large env, fewer reps")
    parser.add_argument("--parts", default=",".join(PARTS), help="of: " + ",".join(PARTS))
    parser.add_argument("--rows", default=",".join(ROWS), help="of: " + ",".join(ROWS))
    parser.add_argument("--reps", type=int, default=None, help="repetitions of each")
    parser.add_argument(
        "--scratch",
        default=None,
        help="the folder the runs unpack in (default: the temporary folder's; e.g. a mounted "
        "scratch file system, to measure on another)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        for row in run(
            Path(tmp),
            quick=args.quick,
            parts=tuple(args.parts.split(",")),
            rows=tuple(args.rows.split(",")),
            reps=args.reps,
        ):
            print(line(row), flush=True)


if __name__ == "__main__":
    _main()

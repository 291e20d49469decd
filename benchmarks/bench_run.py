"""poncho_package_run: what the wrapper costs on top of doing the same by hand.

Two real conda-pack tarballs (made with poncho-testing from the local channel): the demo
environment (python, poncho-demo-app, poncho-demo-activate) and a larger one, the demo plus
generated site-packages padding (tens of thousands of files, a few hundred MB unpacked;
``quick`` makes it small). For each:

- cold run: ``poncho_package_run -e ENV -d <fresh DIR> CMD`` (safe extraction, conda-unpack,
  activation computed once, state file, exec) against ``tar -xf ENV -C <fresh DIR>`` then CMD
  with the environment's bin first on PATH;
- cold run without ``-d`` (temporary folder, removed afterwards) against the same plus
  ``rm -rf``;
- warm run: ``poncho_package_run -d <ready DIR> CMD`` against CMD alone with the same PATH;
- 16 simultaneous cold runs sharing one DIR (one unpacks, the others wait, then all run)
  against one cold run.

CMD is the demo's console script ``poncho-demo-app`` (a Python program, as tasks usually are).
Each figure is the median of a few repetitions, ours and the baseline measured in the same run,
with warm file caches.
"""

from __future__ import annotations

import builtins
import keyword
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_SPECS = ["python", "poncho-demo-app", "poncho-demo-activate"]
COMMAND = ["poncho-demo-app"]
SIMULTANEOUS = 16

# Words of generated "source code": Python keywords and builtin names.
_WORDS = [*keyword.kwlist, *(name for name in dir(builtins) if name.islower())]


def run(workdir: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Measure the rows described in the module docstring (see benchmarks/run.py)."""
    from poncho_testing import build_channel, build_env_tarball

    reps = 2 if quick else 3
    channel = build_channel()
    demo = build_env_tarball(channel, DEMO_SPECS, workdir / "demo.tar.gz")
    files, size = (2_000, 6_000) if quick else (30_000, 10_000)
    site = "lib/python{}.{}/site-packages".format(*channel.python_version.split(".")[:2])
    padding = _padding(site, files, size)
    large = build_env_tarball(channel, DEMO_SPECS, workdir / "large.tar.gz", extra_files=padding)
    wrapper = _wrapper()
    env = _environment(workdir)
    rows: list[dict[str, Any]] = []
    for label, tarball in (("demo env", demo), (f"large env ({_describe(large)})", large)):
        rows += _measure(label, tarball, wrapper, env, workdir, reps)
    return rows


def _measure(
    label: str, tarball: Path, wrapper: list[str], env: dict[str, str], workdir: Path, reps: int
) -> list[dict[str, Any]]:
    counter = iter(range(10**6))

    def fresh() -> Path:
        return workdir / f"{tarball.stem}-{next(counter)}"

    def ours_cold() -> None:
        _call([*wrapper, "-e", str(tarball), "-d", str(fresh()), "--", *COMMAND], env)

    def tar_cold(remove: bool = False) -> None:
        target = fresh()
        target.mkdir()
        _call(["tar", "-xf", str(tarball), "-C", str(target)], env)
        _call(COMMAND, _with_path(env, target))
        if remove:
            shutil.rmtree(target)

    def ours_temporary() -> None:
        _call([*wrapper, "-e", str(tarball), "--", *COMMAND], env)

    def tar_temporary() -> None:
        tar_cold(remove=True)

    ready = fresh()
    _call([*wrapper, "-e", str(tarball), "-d", str(ready), "--", *COMMAND], env)
    bare_env = _with_path(env, ready)

    def ours_warm() -> None:
        _call([*wrapper, "-d", str(ready), "--", *COMMAND], env)

    def bare_warm() -> None:
        _call(COMMAND, bare_env)

    def ours_simultaneous() -> None:
        shared = fresh()
        argv = [*wrapper, "-e", str(tarball), "-d", str(shared), "--", *COMMAND]
        procs = [
            subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL) for _ in range(SIMULTANEOUS)
        ]
        if any(proc.wait() != 0 for proc in procs):
            raise RuntimeError(f"a simultaneous run failed: {argv}")

    cold, tar = _median_pair(ours_cold, tar_cold, reps)
    temporary, tar_rm = _median_pair(ours_temporary, tar_temporary, reps)
    warm, bare = _median_pair(ours_warm, bare_warm, max(reps, 5) * 2)
    together, one = _median_pair(ours_simultaneous, ours_cold, reps)
    warm_note = f"overhead {1000 * (warm - bare):.0f} ms per run; the wrapper execs the command"
    return [
        _row(
            f"{label}: cold run, -d fresh DIR",
            cold,
            "tar -xf + command",
            tar,
            "safe extraction + conda-unpack + activation once + state file",
        ),
        _row(
            f"{label}: cold run, temporary folder",
            temporary,
            "tar -xf + command + rm -rf",
            tar_rm,
            "folder removed afterwards",
        ),
        _row(f"{label}: warm run, -d ready DIR", warm, "bare command, same PATH", bare, warm_note),
        _row(
            f"{label}: {SIMULTANEOUS} simultaneous cold runs, one DIR",
            together,
            "one cold run",
            one,
            "wall time; one extraction, the others wait then exec",
        ),
    ]


def _row(name: str, ours: float, baseline: str, base: float, note: str) -> dict[str, Any]:
    return {
        "benchmark": name,
        "ours_s": ours,
        "baseline": baseline,
        "baseline_s": base,
        "note": note,
    }


def _median_pair(
    ours: Callable[[], None], baseline: Callable[[], None], reps: int
) -> tuple[float, float]:
    """Median seconds of each, alternating them so that both see the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for index, function in enumerate((ours, baseline)):
            start = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _call(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)


def _wrapper() -> list[str]:
    """poncho_package_run as workers start it: the console script next to this Python."""
    script = Path(sys.executable).with_name("poncho_package_run")
    return [str(script)] if script.exists() else [sys.executable, "-m", "poncho_run"]


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


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for row in run(Path(tmp), quick="--quick" in sys.argv):
            print(row)

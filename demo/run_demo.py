"""The offline demo: Poncho's main job end to end, as a user meets it (`make demo`).

1. Builds the local conda channel (a relocatable `python` from this machine's interpreter,
   `pip`, small noarch packages) and a local wheelhouse: no conda channel is reachable here.
2. Makes the "user's environment" the way a user has one: a conda environment with the
   packages the task needs (built by poncho_package_create --keep-prefix from the channel),
   and a pip package from the wheelhouse.
3. poncho_package_analyze --interpreter <user env>/bin/python demo/example.py -> spec.json:
   the user's environment's installed metadata decides which package provides each import.
4. poncho_package_create spec.json -> a tarball in the envs/ cache; again: a cache hit.
5. poncho_package_run -e tarball -- python example.py, from another folder (cold: unpacks
   into a temporary folder), then twice with -d (the first unpacks, the second is warm).

Every step runs the real console scripts in subprocesses and prints each command (`$ ...`)
so that, pasted in the repository's root folder, it does the same; then its output and how
long it took. Outputs go to demo-out/ (removed and made again on each run; PONCHO_DEMO_OUT
moves it), with `channel` and `wheelhouse` there linking to the local channel and wheelhouse
(the guide's offline examples call them ./channel and ./wheelhouse).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("PONCHO_DEMO_OUT") or ROOT / "demo-out").absolute()
BIN = Path(sys.executable).parent


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def pasteable(args: Sequence[str], cwd: Path | None, env: dict[str, str]) -> str:
    """The command as a user pastes it in the repository's root: paths inside the checkout
    relative to the folder it runs in, the variables it needs in front, and a `cd` first
    (in a subshell, so the next command is pasted in the root again) when it runs elsewhere."""
    base = cwd or ROOT

    def word(text: str) -> str:
        path = Path(text)
        if path.is_absolute() and (path == ROOT or ROOT in path.parents):
            text = os.path.relpath(path, base)
        return shlex.quote(text)

    command = " ".join([*(f"{k}={word(v)}" for k, v in env.items()), *map(word, args)])
    if base != ROOT:
        folder = os.path.relpath(base, ROOT) if ROOT in base.parents else str(base)
        return f"(cd {shlex.quote(folder)} && {command})"
    return command


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    show: bool = True,
) -> tuple[str, float]:
    """Run a command (with *env* added to the environment), print it as a user pastes it in
    the repository's root, its output and its wall time; stop the demo if it fails."""
    args = [str(a) for a in argv]
    shown = pasteable(args, cwd, env or {})
    print(f"$ {shown}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, check=False)  # fmt: skip
    elapsed = time.perf_counter() - start
    if show:
        for line in proc.stdout.splitlines():
            print(f"  {line}")
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"demo: step failed with exit status {proc.returncode}: {shown}")
    print(f"  ({elapsed:.2f} s)", flush=True)
    return proc.stdout, elapsed


def main() -> int:
    from poncho_testing import build_channel, build_wheelhouse

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    timings: dict[str, float] = {}
    where = os.path.relpath(OUT, ROOT) if ROOT in OUT.parents else str(OUT)
    print(f"Each $ line is a command you can paste in {ROOT} (the repository's root).")

    step("1. local conda channel and wheelhouse (offline)")
    start = time.perf_counter()
    channel = build_channel()
    wheelhouse = build_wheelhouse()
    timings["channel"] = time.perf_counter() - start
    # Links with stable names, for the guide's offline examples (./channel, ./wheelhouse).
    (OUT / "channel").symlink_to(channel.path)
    (OUT / "wheelhouse").symlink_to(wheelhouse.path)
    print(f"  channel    {where}/channel -> {channel.path}")
    print(f"             (python {channel.python_version}, {', '.join(sorted(channel.packages))})")
    print(f"  wheelhouse {where}/wheelhouse -> {wheelhouse.path}")
    print(f"  ({timings['channel']:.2f} s; cached per interpreter)")
    pip_offline = ["--no-index", "--find-links", str(OUT / "wheelhouse")]

    step("2. the user's environment: conda packages + a pip package")
    user_spec = OUT / "user-env.json"
    user_spec.write_text(
        json.dumps(
            {
                "conda": {
                    "channels": [(OUT / "channel").as_uri()],
                    "dependencies": [
                        f"python={channel.python_version}",
                        "pip",
                        "poncho-demo-app",
                        {"pip": ["poncho-demo-piptop"]},
                    ],
                }
            },
            indent=2,
        )
    )
    user_env = OUT / "user-env"
    run(
        [
            BIN / "poncho_package_create",
            "--quiet",
            *pip_offline,
            "--keep-prefix",
            user_env,
            user_spec,
            OUT / "user-env.tar.gz",
        ]
    )
    print(
        f"  (to run it again, remove its --keep-prefix folder first: rm -rf {word_path(user_env)})"
    )

    step("3. analyze: the script's imports -> a pinned spec (never runs the script)")
    spec = OUT / "spec.json"
    _, timings["analyze"] = run(
        [
            BIN / "poncho_package_analyze",
            "--explain",
            "--interpreter",
            user_env / "bin" / "python",
            ROOT / "demo" / "example.py",
            spec,
        ]
    )
    print("  " + spec.read_text().replace("\n", "\n  "))

    step("4. create: spec -> relocatable tarball in the envs/ cache")
    env = {"PONCHO_ENVS_DIR": str(OUT / "envs")}
    out, timings["create"] = run([BIN / "poncho_package_create", *pip_offline, spec], env=env)
    tarball = Path(out.strip().splitlines()[-1])
    _, timings["create (cache hit)"] = run(
        [BIN / "poncho_package_create", *pip_offline, spec], env=env
    )

    step("5. run: on a 'worker' folder, with only the tarball and the script")
    worker = OUT / "worker"
    worker.mkdir()
    shutil.copy2(ROOT / "demo" / "example.py", worker / "example.py")
    runner = BIN / "poncho_package_run"
    _, timings["run (cold, temp dir)"] = run(
        [runner, "-e", tarball, "--", "example.py"], cwd=worker
    )
    unpacked = worker / "env"
    _, timings["run -d (first: unpacks)"] = run(
        [runner, "-e", tarball, "-d", unpacked, "--", "example.py"], cwd=worker
    )
    _, timings["run -d (warm)"] = run(
        [runner, "-e", tarball, "-d", unpacked, "--", "example.py"], cwd=worker
    )
    _, timings["bare python (no poncho)"] = run(
        [unpacked / "bin" / "python", "example.py"], cwd=worker, show=False
    )

    step("summary")
    width = max(map(len, timings))
    for name, seconds in timings.items():
        print(f"  {name:<{width}}  {seconds:7.2f} s")
    print(f"\n  tarball: {tarball}")
    print(f"  spec:    {spec}")
    print("\nThe guide's examples run offline against this demo's channel and wheelhouse:")
    print(f"  . {word_path(BIN / 'activate')}")
    print(f"  poncho_package_create --channel {where}/channel --override-channels "
          f"--no-index --find-links {where}/wheelhouse SPEC OUTPUT")  # fmt: skip
    return 0


def word_path(path: Path) -> str:
    """*path* relative to the repository's root where it is inside it, quoted for sh."""
    if ROOT in path.parents:
        return shlex.quote(os.path.relpath(path, ROOT))
    return shlex.quote(str(path))


if __name__ == "__main__":
    sys.exit(main())

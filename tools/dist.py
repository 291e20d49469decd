"""Build a release into one folder: ``python tools/dist.py [--no-isolation] OUTDIR``.

Writes into OUTDIR (which must be empty or absent):

- a wheel and an sdist of every published distribution (every packages/* but poncho-testing),
  each wheel built from its sdist (``python -m build``), so an sdist that misses a file fails
  here and not on a user's machine;
- ``poncho_package_run``: the standalone runner that Work Queue, TaskVine and Parsl copy into
  a task's sandbox, taken byte for byte from poncho-run's wheel (the file pip installs);

then checks that every distribution says VERSION (tools/versions.py) and runs
``twine check --strict`` on the wheels and sdists. `make dist` runs it through ``nox -s dist``,
with isolated builds (the build backend comes from the registry); the integration test
(tests-integration/test_install.py) runs it with ``--no-isolation``, offline, and installs
what it wrote. Exit status 0, 1 when a step fails (its output is shown), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from versions import problems  # noqa: E402  (tools/ is not a package)

UNPUBLISHED = {"poncho-testing"}
RUNNER = "poncho_package_run"
PROG = "dist.py"


class DistError(Exception):
    """A step of the release build failed."""


def published(root: Path = ROOT) -> list[Path]:
    """The folders of the published distributions."""
    return sorted(
        p.parent for p in (root / "packages").glob("*/pyproject.toml")
        if p.parent.name not in UNPUBLISHED
    )  # fmt: skip


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DistError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")


def build(out: Path, *, isolation: bool = True, root: Path = ROOT) -> list[Path]:
    """Build every published distribution and the runner into *out*; return the files."""
    found = list(problems(root))
    if found:
        raise DistError("\n".join(found))
    if out.exists() and any(out.iterdir()):
        raise DistError(f"{out} is not empty: remove it first")
    out.mkdir(parents=True, exist_ok=True)
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    options = ["--outdir", str(out)]
    if not isolation:
        options.append("--no-isolation")
    elif importlib.util.find_spec("uv") is not None or shutil.which("uv"):
        options += ["--installer", "uv"]
    for package in published(root):
        _run([sys.executable, "-m", "build", *options, str(package)])
    artifacts = sorted(p for p in out.iterdir() if p.suffix in {".whl", ".gz"})
    expected = 2 * len(published(root))
    if len(artifacts) != expected or any(f"-{version}" not in p.name for p in artifacts):
        raise DistError(f"expected {expected} files of version {version}, got "
                        + ", ".join(p.name for p in artifacts))  # fmt: skip
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, artifacts)])
    return [*artifacts, extract_runner(out, version)]


def extract_runner(out: Path, version: str) -> Path:
    """Copy the runner script out of poncho-run's wheel into *out* (mode 0755)."""
    wheel = next(out.glob(f"poncho_run-{version}-*.whl"))
    member = f"poncho_run-{version}.data/scripts/{RUNNER}"
    target = out / RUNNER
    with zipfile.ZipFile(wheel) as archive:
        target.write_bytes(archive.read(member))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def main(argv: list[str] | None = None) -> int:
    """Build the release; exit 0, 1 when a step fails, 2 on bad usage."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("out", metavar="OUTDIR", type=Path, help="an empty or new folder")
    parser.add_argument("--no-isolation", action="store_true",
                        help="build with this Python's hatchling (offline)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        files = build(args.out, isolation=not args.no_isolation)
    except DistError as exc:
        sys.stderr.write("".join(f"{PROG}: error: {line}\n" for line in str(exc).splitlines()))
        return 1
    for path in files:
        print(f"{path}  ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

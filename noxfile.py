"""Repo-wide sessions: lint, typecheck, dist, benchmarks, docs.

Per-package tests live in tox.ini (each package alone); `make test` runs those.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck"]

ROOT = Path(__file__).parent
# The pinned test world: every session installs under it (`make constraints` refreshes it).
CONSTRAINTS = ("--constraint", str(ROOT / "constraints.txt"))
PACKAGES = [
    "poncho-core",
    "poncho-spec",
    "poncho-fetch",
    "poncho-run",
    "poncho-dask",
    "poncho-create",
    "poncho-analyze",
    "poncho",
    "poncho-testing",
]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree, and the structure check."""
    # No import cycle inside a package, no module over 400 lines (standard library only).
    session.run("python", "tools/check_structure.py")
    # One version for every distribution: VERSION, the pyprojects, the pins between them.
    session.run("python", "tools/versions.py", "check")
    session.install(*CONSTRAINTS, "ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The shell front end of poncho_package_run is POSIX sh (it runs where no bash may be).
    if shutil.which("shellcheck") is None:
        if os.geteuid() != 0:
            session.error("shellcheck is not installed: `apt-get install shellcheck` as root")
        session.run("apt-get", "update", "-q", external=True)
        session.run("apt-get", "install", "-y", "-q", "shellcheck", external=True)
    session.run(
        "shellcheck",
        "-s",
        "sh",
        "packages/poncho-run/scripts/poncho_package_run.sh",
        "packages/poncho-create/src/poncho_create/run_in_env.sh",
        external=True,
    )


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on every package's src/."""
    session.install(
        *CONSTRAINTS,
        "mypy>=1.10",
        "types-requests",
        *[f"./packages/{p}" for p in PACKAGES],
    )
    for package in PACKAGES:
        session.run("mypy", f"packages/{package}/src")


@nox.session
def dist(session: nox.Session) -> None:
    """`make dist`: the wheel and sdist of every published package and the standalone
    poncho_package_run into dist/, after `twine check --strict` (tools/dist.py)."""
    session.install(*CONSTRAINTS, "build[uv]>=1.2", "twine>=6")
    shutil.rmtree(ROOT / "dist", ignore_errors=True)
    session.run("python", "tools/dist.py", "dist")


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark and print one table of ratios (`-- --quick` for a short run).
    The worker is measured as we recommend installing it: poncho-run with its [fast] extra
    (ISA-L inflate)."""
    packages = [f"./packages/{p}" for p in PACKAGES]
    packages[PACKAGES.index("poncho-run")] += "[fast]"
    session.install(*CONSTRAINTS, *packages)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The long fuzzing profile (issue 13): 10,000 specs per test through poncho-spec's API
    and CLI; 500 specs and 500 texts through poncho_fetch against a misbehaving local
    server. Counts go to .nox/fuzz-report.jsonl (the figures of docs/dev/robustness.md)."""
    session.install(
        "./packages/poncho-core",
        "./packages/poncho-spec[conda]",
        "./packages/poncho-fetch",
        "./packages/poncho-testing",
        "pytest>=8",
        "hypothesis>=6.100",
    )
    report = ROOT / ".nox" / "fuzz-report.jsonl"
    report.unlink(missing_ok=True)
    session.run(
        "pytest",
        "packages/poncho-spec/tests/test_fuzz.py",
        "packages/poncho-spec/tests/test_canonical.py",
        "packages/poncho-fetch/tests/test_fuzz.py",
        *session.posargs,
        env={"PONCHO_FUZZ": "long", "PONCHO_FUZZ_REPORT": str(report)},
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the user guide, man pages and API reference into docs/_build."""
    session.install(*CONSTRAINTS, "pdoc>=14", *[f"./packages/{p}" for p in PACKAGES])
    session.run("python", "docs/build.py", "docs/_build")


@nox.session(python="3.13")
def dask_latest(session: nox.Session) -> None:
    """poncho-dask's tests with the newest cloudpickle and distributed, outside the pinned
    test world: tomorrow's releases (e.g. cloudpickle renaming the code it sends by value)
    show up here first. Not in `make test`, which must install the same versions each day."""
    unpinned = {"UV_CONSTRAINT": None, "PIP_CONSTRAINT": None}
    session.install(
        "--upgrade",
        "-r",
        "packages/poncho-dask/test-requirements.txt",
        "cloudpickle",
        "distributed",
        env=unpinned,
    )
    session.run(
        "python",
        "-c",
        "import cloudpickle, distributed; "
        "print('cloudpickle', cloudpickle.__version__, '- distributed', distributed.__version__)",
    )
    session.run(
        "pytest",
        "packages/poncho-dask/tests",
        *session.posargs,
        env={"PONCHO_TESTING_CACHE": str(ROOT / ".nox" / ".poncho-testing-cache")},
    )


@nox.session(python="3.13")
def fuzz_archives(session: nox.Session) -> None:
    """poncho-run's archive fuzzer, long profile: PONCHO_FUZZ_EXAMPLES hostile archives
    (default 2,000), each through the CLI and the API with and without DIR; the figures go
    to .nox/fuzz-archives.json (summarised in docs/dev/robustness-archives.md)."""
    session.install(*CONSTRAINTS, "-r", "packages/poncho-run/test-requirements.txt")
    session.run(
        "pytest",
        "packages/poncho-run/tests/test_fuzz_archives.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={
            "PONCHO_FUZZ": "long",
            "PONCHO_FUZZ_REPORT": str(ROOT / ".nox" / "fuzz-archives.json"),
        },
    )

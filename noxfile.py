"""Repo-wide sessions: lint, typecheck, wheels, benchmarks, docs.

Per-package tests live in tox.ini (each package alone); `make test` runs those.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck"]

ROOT = Path(__file__).parent
PACKAGES = [
    "poncho-spec",
    "poncho-fetch",
    "poncho-run",
    "poncho-create",
    "poncho-analyze",
    "poncho",
    "poncho-testing",
]
PUBLISHED = [p for p in PACKAGES if p != "poncho-testing"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on every package's src/."""
    session.install(
        "mypy>=1.10",
        "types-requests",
        "./packages/poncho-run[dask]",
        *[f"./packages/{p}" for p in PACKAGES],
    )
    for package in PACKAGES:
        session.run("mypy", f"packages/{package}/src")


@nox.session
def wheels(session: nox.Session) -> None:
    """Build the wheel and sdist of every published package into dist/."""
    session.install("build>=1.2")
    for package in PUBLISHED:
        session.run("python", "-m", "build", "--outdir", "dist", f"packages/{package}")


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark and print one table of ratios (`-- --quick` for a short run)."""
    session.install(*[f"./packages/{p}" for p in PACKAGES])
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The long fuzzing profile (issue 13): 10,000 specs per test through poncho-spec's API
    and CLI; 500 specs and 500 texts through poncho_fetch against a misbehaving local
    server. Counts go to .nox/fuzz-report.jsonl (the figures of docs/dev/robustness.md)."""
    session.install(
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
    session.install(
        "pdoc>=14", "./packages/poncho-run[dask]", *[f"./packages/{p}" for p in PACKAGES]
    )
    session.run("python", "docs/build.py", "docs/_build")

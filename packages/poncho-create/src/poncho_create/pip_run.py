"""Running pip: ``python -m pip install`` in the new prefix (or for another platform's
target), isolated from pip's own configuration unless asked, with its temporary files in the
build's work folder; its output is read as it comes to report progress."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poncho_create._subprocess import run_streamed
from poncho_create.errors import PipError
from poncho_create.options import PipOptions
from poncho_create.pip_sources import is_path_entry, normalize_name, requirement_name
from poncho_create.progress import Reporter

if TYPE_CHECKING:
    from poncho_create.pip_target import TargetPython

__all__ = ["MISSING", "Pip", "failure_message", "output_tail"]

log = logging.getLogger(__name__)

TAIL_LINES = 25
MISSING = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) ([A-Za-z0-9][A-Za-z0-9._\-]*)"
)
"""What pip says of a requirement it found on no index; group 1 is its name."""


class Pip:
    """Runs ``python -m pip install`` in the new prefix, isolated and reporting progress."""

    def __init__(
        self,
        python: Path,
        options: PipOptions,
        work: Path,
        report: Reporter,
        *,
        target: TargetPython | None = None,
    ) -> None:
        self.python = python
        self.target = target
        self.options = options
        self.work = work
        self.report = report
        self.runs = 0
        self.steps = 0

    def install_locked(self, hashed: Sequence[str]) -> Mapping[str, Any]:
        """Install exactly the locked files (``name @ url --hash=...`` lines)."""
        requirements = self.work / "locked-requirements.txt"
        requirements.write_text("\n".join(hashed) + "\n", encoding="utf-8")
        result, data = self.install(
            ["--require-hashes", "--requirement", str(requirements)], no_deps=True
        )
        if result.returncode != 0:
            raise PipError(failure_message(result))
        return data

    def install_files(
        self, files: Sequence[tuple[str, str | None]], staging: Path
    ) -> Mapping[str, Any]:
        """Install exactly `files` (requirement, sha256) for the target into `staging`
        (``--target``, no dependencies); hashes are checked when every file has one."""
        hashed = all(sha256 for _, sha256 in files)
        lines = [f"{req} --hash=sha256:{sha256}" if hashed else req for req, sha256 in files]
        requirements = self.work / "target-requirements.txt"
        requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args = ["--require-hashes"] if hashed else []
        result, data = self.install(
            [*args, "--requirement", str(requirements)],
            no_deps=True,
            extra=["--target", str(staging)],
        )
        if result.returncode != 0:
            raise PipError(failure_message(result))
        return data

    def resolve_for_target(
        self, requirements: Sequence[str], target: TargetPython
    ) -> Mapping[str, Any]:
        """What pip would install for the target (``--dry-run``): its report. PipError
        naming every requirement with no wheel for the target (one line each)."""
        from poncho_create.pip_target import describe_missing

        problems: list[str] = []
        remaining = list(requirements)
        data: Mapping[str, Any] = {}
        while remaining:
            result, data = self.install(remaining, no_deps=False, extra=["--dry-run"])
            if result.returncode == 0:
                break
            missing = list(dict.fromkeys(MISSING.findall(result.stdout)))
            if not missing:
                raise PipError(failure_message(result))
            # Only now: pip says which files it skipped and why at its debug level.
            verbose, _ = self.install(remaining, no_deps=False, extra=["--dry-run", "-vv"])
            problems += [describe_missing(name, target, verbose.stdout) for name in missing]
            names = {normalize_name(name) for name in missing}
            top = [r for r in remaining if not is_path_entry(r) and requirement_name(r) in names]
            if not top:
                break  # a dependency: the others cannot be checked without it
            remaining = [r for r in remaining if r not in top]
        if problems:
            raise PipError("\n".join(problems))
        return data

    def install(
        self, requirements: Sequence[str], *, no_deps: bool, extra: Sequence[str] = ()
    ) -> tuple[subprocess.CompletedProcess[str], Mapping[str, Any]]:
        """One pip run; the completed process (its output in stdout) and pip's report."""
        self.runs += 1
        report_file = self.work / f"report-{self.runs}.json"
        if self.target is None:
            launcher = [str(self.python), "-m", "pip"]
        else:
            launcher = self.target.pip_command()
        cmd = [
            *launcher,
            "install",
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--progress-bar",
            "off",
            "--report",
            str(report_file),
            *self.options.args(),
            *(self.target.pip_args() if self.target is not None else ()),
        ]
        if no_deps:
            # From a lock: exactly the locked set, each one installed (and so hash-checked)
            # even if something already satisfies it.
            cmd += ["--no-deps", "--force-reinstall"]
        cmd += [*extra, *requirements]
        log.debug("running %s", shlex.join(cmd))  # a line to paste into a shell
        try:
            result = run_streamed(cmd, env=self.environment(), on_line=self._progress)
        except OSError as exc:
            raise PipError(f"cannot run {launcher[0]}: {exc}") from exc
        log.debug("pip output:\n%s", result.stdout)
        data: Mapping[str, Any] = {}
        if result.returncode == 0 and report_file.exists():
            data = json.loads(report_file.read_text(encoding="utf-8"))
        return result, data

    def environment(self) -> dict[str, str]:
        """The child's environment: no PYTHONPATH/HOME, and pip's configuration only if asked."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        if not self.options.use_config:
            env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
            # pip reads no configuration file at all when this names os.devnull.
            env["PIP_CONFIG_FILE"] = os.devnull
        env.update(
            PYTHONNOUSERSITE="1",
            PIP_REQUIRE_VIRTUALENV="0",
            PIP_NO_INPUT="1",
            TMPDIR=str(self.work),
        )
        return env

    def _progress(self, line: str) -> None:
        line = line.strip()
        for prefix, verb in _PROGRESS_LINES:
            if line.startswith(prefix):
                self.steps += 1
                what = line[len(prefix) :].split(" (", 1)[0].strip()
                self.report("pip", self.steps, None, "steps", f"{verb} {what}"[:80])
                return


_PROGRESS_LINES = (
    ("Collecting ", "collecting"),
    ("Processing ", "processing"),
    ("Downloading ", "downloading"),
    ("Building wheel for ", "building"),
    ("Installing collected packages: ", "installing"),
    ("Successfully installed ", "installed"),
)


def failure_message(result: subprocess.CompletedProcess[str]) -> str:
    """The error message of a failed pip run: its exit code and the tail of its output."""
    return (
        f"pip install failed (exit code {result.returncode}); last lines of its output:\n"
        f"{output_tail(result.stdout)}"
    )


def output_tail(output: str) -> str:
    """The last non-blank lines of pip's output, indented."""
    lines = [line for line in output.rstrip().splitlines() if line.strip()]
    return "\n".join("  " + line for line in lines[-TAIL_LINES:])

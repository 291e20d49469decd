"""Building the conda part with the user's own conda, mamba or micromamba (``--conda-exe``).

The executable creates the prefix from the conda dependencies given as match specs on its
command line, with the spec's channels in order and ``--override-channels``, so that the
user's ``.condarc`` channels (and their strict priority) never leak into a build:
``conda|mamba create --prefix P --yes --override-channels --channel C... SPEC...``
(``micromamba create -p P -y ...``). With ``--from-lock``, an ``@EXPLICIT`` list of package
URLs is written and given as ``--file`` (the one file format all three read the same way;
``create --file`` does not read an ``environment.yml``). The pip step and packing are ours,
as with the embedded engine; downloads go to that conda's own package cache (``--pkgs-dir``
is not passed on).

Experimental: untested against a real conda, mamba or micromamba (none can be installed on
the machines this was written on). The tests drive these command lines through a stand-in
that parses them as the real CLIs do (from their documentation) and builds with py-rattler.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from poncho_create._subprocess import run_streamed
from poncho_create.errors import CondaExeError
from poncho_create.lock import Lock
from poncho_create.progress import Reporter

__all__ = ["build_prefix_external", "create_command", "explicit_file"]

log = logging.getLogger(__name__)

_TAIL_LINES = 25


def explicit_file(lock: Lock) -> str:
    """An ``@EXPLICIT`` list (conda's explicit environment format) of the locked packages."""
    lines = ["# created by poncho-create from a lock", f"# platform: {lock.platform}", "@EXPLICIT"]
    for entry in lock.conda:
        lines.append(f"{entry.url}#{entry.sha256}" if entry.sha256 else entry.url)
    return "\n".join(lines) + "\n"


def create_command(
    conda_exe: Path,
    prefix: Path,
    *,
    channels: Sequence[str] = (),
    specs: Sequence[str] = (),
    explicit: Path | None = None,
    platform: str | None = None,
) -> list[str]:
    """The command line that creates `prefix` with `conda_exe`.

    From `specs` in `channels` (in order, nothing else: ``--override-channels``), or from an
    `explicit` ``@EXPLICIT`` file. micromamba takes short options (``-p P -y``); conda and
    mamba the long ones. `platform` (a foreign one only) is passed as ``--platform``.
    """
    micromamba = "micromamba" in conda_exe.name
    cmd = [str(conda_exe), "create", "-p" if micromamba else "--prefix", str(prefix)]
    cmd.append("-y" if micromamba else "--yes")
    if explicit is not None:
        cmd += ["--file", str(explicit)]
    else:
        cmd.append("--override-channels")
        for channel in channels:
            cmd += ["--channel", channel]
        cmd += specs
    if platform is not None:
        cmd += ["--platform", platform]
    return cmd


def build_prefix_external(
    conda_exe: Path,
    dependencies: Sequence[str],
    channels: Sequence[str],
    platform: str,
    prefix: Path,
    work_dir: Path,
    report: Reporter,
    *,
    native: bool,
    lock: Lock | None = None,
) -> None:
    """Create `prefix` with `conda_exe`; CondaExeError with the tail of its output on failure."""
    exe = _find(conda_exe)
    foreign = None if native else platform
    if lock is not None:
        explicit = work_dir / "explicit.txt"
        explicit.write_text(explicit_file(lock), encoding="utf-8")
        cmd = create_command(exe, prefix, explicit=explicit, platform=foreign)
    else:
        cmd = create_command(exe, prefix, channels=channels, specs=dependencies, platform=foreign)
    log.info("running %s", " ".join(cmd))
    report.start("install", None, "steps", f"{exe.name} create")
    try:
        result = run_streamed(cmd)
    except OSError as exc:
        raise CondaExeError(f"cannot run {exe}: {exc}") from exc
    log.debug("%s output:\n%s", exe.name, result.stdout)
    if result.returncode != 0:
        lines = [line for line in result.stdout.rstrip().splitlines() if line.strip()]
        tail = "\n".join("  " + line for line in lines[-_TAIL_LINES:])
        raise CondaExeError(
            f"{exe.name} create failed (exit code {result.returncode}); last lines of its "
            f"output:\n{tail}"
        )
    if not (prefix / "conda-meta").is_dir():
        raise CondaExeError(f"{exe.name} create succeeded but made no environment at {prefix}")
    report.finish("install", 1, 1, "steps", f"{exe.name} create")


def _find(conda_exe: Path) -> Path:
    """`conda_exe` as given if it is a path, else looked up on PATH."""
    if os.sep in str(conda_exe):
        if not (conda_exe.is_file() and os.access(conda_exe, os.X_OK)):
            raise CondaExeError(f"--conda-exe {conda_exe}: not an executable file")
        return conda_exe
    found = shutil.which(str(conda_exe))
    if found is None:
        raise CondaExeError(f"--conda-exe {conda_exe}: not found on PATH")
    return Path(found)

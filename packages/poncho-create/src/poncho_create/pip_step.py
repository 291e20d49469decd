"""The pip step: pip entries go into the built prefix with the prefix's own interpreter.

Local path entries are installed non-editable. A requirement that pip cannot find on any
index but that is installed in the *current* environment (typically the user's own code,
``pip install -e .``) is built from its installed source location, read from the
distribution's ``direct_url.json``; when that source cannot be found the error names the
package. pip's ``--report`` gives what was installed, from where (the exact file URL), with
which hash: the pip part of the lock. From a lock, the locked files are installed again by
URL with ``--no-deps --require-hashes``.

With `platform` (``--platform``, another machine's), the environment's interpreter cannot
run here: binary wheels for the target are chosen and installed without running it (see
`poncho_create.pip_target`), and a pip package with no wheel for the target is an error
naming it.

pip runs without its own configuration (``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*``
variables) unless ``PipOptions.use_config``, with its temporary files in the build's work
folder, and its output is read as it comes to report progress.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from poncho_create._subprocess import run_streamed
from poncho_create.errors import PipError
from poncho_create.lock import PipLockEntry
from poncho_create.options import PipOptions
from poncho_create.progress import Reporter

if TYPE_CHECKING:
    from poncho_create.pip_target import TargetPython

__all__ = ["PipOptions", "install_pip", "installed_source", "is_path_entry", "resolve_path"]

log = logging.getLogger(__name__)

_TAIL_LINES = 25
_MISSING = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) ([A-Za-z0-9][A-Za-z0-9._\-]*)"
)
_PATH_PREFIXES = ("./", "../", "/", "~", "file:")


def is_path_entry(entry: str, base_dir: Path | None = None) -> bool:
    """True if a pip entry names a local folder or archive rather than a requirement."""
    if entry.startswith(_PATH_PREFIXES):
        return True
    return "/" in entry and "@" not in entry and (Path(base_dir or ".") / entry).exists()


def install_pip(
    prefix: Path,
    entries: Sequence[str],
    options: PipOptions,
    report: Reporter,
    *,
    base_dir: Path | None = None,
    locked: Sequence[PipLockEntry] | None = None,
    current_env: Sequence[str] | None = None,
    work_dir: Path | None = None,
    platform: str | None = None,
) -> list[PipLockEntry]:
    """Install the pip `entries` into `prefix`; returns the lock entries of what went in.

    With `locked` (from ``--from-lock``), the locked files are installed without dependency
    resolution: those with a URL and a sha256 by URL with ``--require-hashes``, the others
    by version, and every hash is checked; path entries still come from `entries`.
    `current_env` is the ``sys.path``-like list searched for installed packages (default:
    this interpreter's). pip's temporary files go to `work_dir` (default: the system's).
    `platform`: the conda platform of an environment for another machine (None: this
    machine's), which gets binary wheels for it only.
    """
    if platform is not None:
        return _install_foreign(
            prefix,
            entries,
            options,
            report,
            platform=platform,
            base_dir=base_dir,
            locked=locked,
            work_dir=work_dir,
        )
    python = prefix / "bin" / "python"
    if not python.exists():
        raise PipError(
            "the spec has pip entries but the environment has no python: "
            "add python to the conda dependencies"
        )
    paths = {
        entry: resolve_path(entry, base_dir) for entry in entries if is_path_entry(entry, base_dir)
    }
    requirements: list[str] = []
    hashed: list[str] = []
    from_installed: dict[str, Path] = {}
    if locked is None:
        requirements = [str(paths[e]) if e in paths else e for e in entries]
    else:
        for item in locked:
            if item.source == "index" and item.url and item.sha256:
                hashed.append(f"{item.name} @ {item.url} --hash=sha256:{item.sha256}")
            elif item.source == "index":
                requirements.append(f"{item.name}=={item.version}")
            elif item.source == "installed":
                from_installed[_normalize(item.name)] = installed_source(
                    item.name, None, current_env
                )
        requirements += [str(path) for path in paths.values()]
        requirements += [str(path) for path in from_installed.values()]

    total = len(requirements) + len(hashed)
    report.start("pip", total, "requirements", f"{total} requirements")
    with tempfile.TemporaryDirectory(prefix="poncho-pip-", dir=work_dir) as work:
        pip = _Pip(python, options, Path(work), report)
        report_data: list[Mapping[str, Any]] = []
        if hashed:
            report_data.append(pip.install_locked(hashed))
        while requirements:
            result, data = pip.install(requirements, no_deps=locked is not None)
            if result.returncode == 0:
                report_data.append(data)
                break
            missing = [
                name
                for name in _MISSING.findall(result.stdout)
                if _normalize(name) not in from_installed
            ]
            if not missing or locked is not None:
                raise PipError(_failure_message(result))
            for name in dict.fromkeys(missing):
                requirement = next(
                    (
                        r
                        for r in requirements
                        if not is_path_entry(r) and _requirement_name(r) == _normalize(name)
                    ),
                    None,
                )
                source = installed_source(
                    name, requirement, current_env, pip_output=_tail(result.stdout)
                )
                from_installed[_normalize(name)] = source
                log.info("pip: %s is not on the index; building it from %s", name, source)
                if requirement is not None:
                    requirements[requirements.index(requirement)] = str(source)
                else:
                    requirements.append(str(source))

    entries_out = [
        entry
        for data in report_data
        for entry in _lock_entries(data, set(paths.values()), set(from_installed.values()))
    ]
    if locked is not None:
        _check_hashes(locked, entries_out)
    report.finish(
        "pip",
        len(entries_out),
        len(entries_out),
        "distributions",
        f"{len(entries_out)} distributions",
    )
    return entries_out


def _install_foreign(
    prefix: Path,
    entries: Sequence[str],
    options: PipOptions,
    report: Reporter,
    *,
    platform: str,
    base_dir: Path | None,
    locked: Sequence[PipLockEntry] | None,
    work_dir: Path | None,
) -> list[PipLockEntry]:
    """`install_pip` for another platform: resolve (``--dry-run``) against what conda
    installed, then install exactly the files chosen (or locked) with ``--target``."""
    from poncho_create.pip_target import move_into_prefix, target_python

    target = target_python(prefix, platform)
    paths = {
        entry: resolve_path(entry, base_dir) for entry in entries if is_path_entry(entry, base_dir)
    }
    for entry, path in paths.items():
        if path.suffix != ".whl":
            raise PipError(
                f"pip entry {entry!r} is a source folder or archive, which cannot be built for "
                f"{target.describe()} on this machine: give a wheel built for it"
            )
    total = len(entries) if locked is None else len(locked)
    report.start("pip", total, "requirements", f"{total} requirements for {platform}")
    with tempfile.TemporaryDirectory(prefix="poncho-pip-", dir=work_dir) as work:
        pip = _Pip(prefix / "bin" / "python", options, Path(work), report, target=target)
        files: list[tuple[str, str | None]] = []  # (requirement, sha256 or None)
        if locked is None:
            requirements = [str(paths[e]) if e in paths else e for e in entries]
            resolved = pip.resolve_for_target(requirements, target)
            for item in resolved.get("install", []):
                info = item.get("download_info", {})
                name = str(item.get("metadata", {}).get("name", ""))
                files.append((f"{name} @ {info.get('url', '')}", _report_sha256(info)))
        else:
            for item in locked:
                if item.source == "installed":
                    raise PipError(
                        f"locked pip package {item.name} {item.version} was built from a local "
                        f"source, which cannot be done for {platform} on this machine"
                    )
                if item.source == "index" and item.url:
                    files.append((f"{item.name} @ {item.url}", item.sha256))
                elif item.source == "index":
                    files.append((f"{item.name}=={item.version}", item.sha256))
            for path in paths.values():
                files.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
        data: Mapping[str, Any] = {}
        if files:
            staging = Path(work) / "target"
            data = pip.install_files(files, staging)
            move_into_prefix(staging, target)
    entries_out = _lock_entries(data, set(paths.values()), set())
    if locked is not None:
        _check_hashes(locked, entries_out)
    report.finish(
        "pip",
        len(entries_out),
        len(entries_out),
        "distributions",
        f"{len(entries_out)} distributions for {platform}",
    )
    return entries_out


def _report_sha256(info: Mapping[str, Any]) -> str | None:
    """The sha256 of a file in pip's report (``download_info``), if it gives one."""
    archive = info.get("archive_info") or {}
    sha256 = (archive.get("hashes") or {}).get("sha256")
    if sha256 is None and str(archive.get("hash", "")).startswith("sha256="):
        sha256 = str(archive["hash"]).split("=", 1)[1]
    return str(sha256) if sha256 else None


def installed_source(
    name: str,
    requirement: str | None = None,
    current_env: Sequence[str] | None = None,
    *,
    pip_output: str = "",
) -> Path:
    """Where the source of `name`, installed in the current environment, lives.

    Read from the distribution's ``direct_url.json`` (a ``file://`` folder or archive,
    editable or not). PipError names the package when it is not installed, does not
    satisfy `requirement`, or its source cannot be found.
    """
    tail = f"\n{pip_output}" if pip_output else ""
    dist = _find_distribution(name, current_env)
    if dist is None:
        raise PipError(
            f"pip package {name!r} was not found on any index, and it is not installed in the "
            f"current environment either{tail}"
        )
    version = dist.version
    if requirement is not None:
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            specifier = Requirement(requirement).specifier
        except InvalidRequirement:
            specifier = None
        if specifier is not None and not specifier.contains(version, prereleases=True):
            raise PipError(
                f"pip package {name!r} is not on any index, and the version installed in the "
                f"current environment ({version}) does not satisfy {requirement!r}{tail}"
            )
    text = dist.read_text("direct_url.json")
    url = ""
    if text:
        try:
            url = str(json.loads(text).get("url", ""))
        except ValueError:
            url = ""
    if not url.startswith("file:"):
        raise PipError(
            f"pip package {name!r} {version} is installed in the current environment but not on "
            f"any index, and its source location is unknown (it was not installed from a local "
            f"folder or file){tail}"
        )
    path = _url_to_path(url)
    if not path.exists():
        raise PipError(
            f"pip package {name!r} {version} is installed in the current environment from "
            f"{path}, which no longer exists{tail}"
        )
    return path


def _find_distribution(
    name: str, current_env: Sequence[str] | None
) -> importlib.metadata.Distribution | None:
    wanted = _normalize(name)
    search = list(current_env) if current_env is not None else None
    kwargs: dict[str, Any] = {"path": search} if search is not None else {}
    for dist in importlib.metadata.distributions(**kwargs):
        dist_name = dist.metadata["Name"] if dist.metadata else None
        if dist_name and _normalize(dist_name) == wanted:
            return dist
    return None


class _Pip:
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
            raise PipError(_failure_message(result))
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
            raise PipError(_failure_message(result))
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
            missing = list(dict.fromkeys(_MISSING.findall(result.stdout)))
            if not missing:
                raise PipError(_failure_message(result))
            # Only now: pip says which files it skipped and why at its debug level.
            verbose, _ = self.install(remaining, no_deps=False, extra=["--dry-run", "-vv"])
            problems += [describe_missing(name, target, verbose.stdout) for name in missing]
            names = {_normalize(name) for name in missing}
            top = [r for r in remaining if not is_path_entry(r) and _requirement_name(r) in names]
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
        log.debug("running %s", cmd)
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


def _lock_entries(
    report_data: Mapping[str, Any], path_sources: set[Path], installed_sources: set[Path]
) -> list[PipLockEntry]:
    entries = []
    for item in report_data.get("install", []):
        metadata = item.get("metadata", {})
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        local = _url_to_path(url) if url.startswith("file:") else None
        if local is not None and local in installed_sources:
            source = "installed"
        elif local is not None and local in path_sources:
            source = "path"
        else:
            source = "index"
        entries.append(
            PipLockEntry(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                sha256=_report_sha256(info),
                source=source,
                url=url or None,
            )
        )
    return entries


def _check_hashes(locked: Sequence[PipLockEntry], installed: Sequence[PipLockEntry]) -> None:
    got = {_normalize(entry.name): entry for entry in installed}
    for want in locked:
        have = got.get(_normalize(want.name))
        if have is None:
            raise PipError(f"locked pip package {want.name} {want.version} was not installed")
        if want.sha256 and have.sha256 and want.sha256 != have.sha256:
            raise PipError(
                f"locked pip package {want.name} {want.version} changed: sha256 {have.sha256} "
                f"now, {want.sha256} in the lock"
            )


def _failure_message(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"pip install failed (exit code {result.returncode}); last lines of its output:\n"
        f"{_tail(result.stdout)}"
    )


def _tail(output: str) -> str:
    lines = [line for line in output.rstrip().splitlines() if line.strip()]
    return "\n".join("  " + line for line in lines[-_TAIL_LINES:])


def resolve_path(entry: str, base_dir: Path | None) -> Path:
    """The absolute path a pip path entry names; PipError if it does not exist."""
    if entry.startswith("file:"):
        path = _url_to_path(entry)
    else:
        path = Path(entry).expanduser()
        if not path.is_absolute():
            path = Path(base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.exists():
        raise PipError(f"pip entry {entry!r}: {path} does not exist")
    return path


def _url_to_path(url: str) -> Path:
    parts = urlsplit(url)
    return Path(url2pathname(unquote(parts.path))).resolve()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._\-]*)", requirement)
    return _normalize(match.group(1)) if match else ""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

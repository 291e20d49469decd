"""The pip step: pip entries go into the built prefix with the prefix's own interpreter.

Local path entries are installed non-editable. A requirement that pip cannot find on any
index but that is installed in the *current* environment (typically the user's own code,
``pip install -e .``) is built from its installed source location, read from the
distribution's ``direct_url.json``; when that source cannot be found the error names the
package. pip's ``--report`` gives what was installed, from where (the exact file URL), with
which hash, or which repository and commit: the pip part of the lock. From a lock, each
locked distribution is installed again from exactly its source, without dependencies: files
by URL with ``--require-hashes``, repositories at the locked commit, local paths (their
digest checked), and index entries without a file (a packed environment's) by version.

With `platform` (``--platform``, another machine's), the environment's interpreter cannot
run here: binary wheels for the target are chosen and installed without running it (see
`poncho_create.pip_target`), and a pip package with no wheel for the target is an error
naming it.

pip runs without its own configuration (``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*``
variables) unless ``PipOptions.use_config``, with its temporary files in the build's work
folder, and its output is read as it comes to report progress.

Here the plan: what to install, in which runs; `poncho_create.pip_run` runs pip,
`poncho_create.pip_report` reads its report, `poncho_create.pip_sources` finds the local
and installed sources.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from poncho_create.errors import PipError
from poncho_create.lock import PipLockEntry
from poncho_create.options import PipOptions
from poncho_create.pip_report import check_hashes, lock_entries, report_sha256
from poncho_create.pip_run import MISSING, Pip, failure_message, output_tail
from poncho_create.pip_sources import (
    installed_source,
    is_path_entry,
    normalize_name,
    requirement_name,
    resolve_path,
    url_to_path,
)
from poncho_create.progress import Reporter, counted

__all__ = ["PipOptions", "install_pip", "installed_source", "is_path_entry", "resolve_path"]

log = logging.getLogger(__name__)


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

    With `locked` (from ``--from-lock``), each locked distribution is installed without
    dependency resolution from its locked source (files with a sha256 by URL with
    ``--require-hashes``, repositories at their commit, index entries without a file by
    version), and every hash and commit is checked; the spec's path entries still come from
    `entries`. PipError names a locked package that cannot be installed again from its
    source.
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
    paths = _spec_paths(entries, base_dir, locked)
    requirements: list[str] = []
    hashed: list[str] = []
    repositories: list[PipLockEntry] = []  # one pip run each: a failure names its package
    from_installed: dict[str, Path] = {}
    if locked is None:
        requirements = [str(paths[e]) if e in paths else e for e in entries]
    else:
        for item in locked:
            if item.source in ("index", "url") and item.url and item.sha256:
                hashed.append(f"{item.name} @ {item.url} --hash=sha256:{item.sha256}")
            elif item.source == "vcs":
                repositories.append(item)
            elif item.source == "installed":
                from_installed[normalize_name(item.name)] = installed_source(
                    item.name, None, current_env
                )
            else:
                requirements += _locked_requirement(item, set(paths.values()))
        requirements += [str(path) for path in paths.values()]
        requirements += [str(path) for path in from_installed.values()]

    total = len(requirements) + len(hashed) + len(repositories)
    report.start("pip", total, "requirements", counted(total, "requirements"))
    with tempfile.TemporaryDirectory(prefix="poncho-pip-", dir=work_dir) as work:
        pip = Pip(python, options, Path(work), report)
        report_data: list[Mapping[str, Any]] = []
        if hashed:
            report_data.append(pip.install_locked(hashed))
        for item in repositories:
            result, data = pip.install([f"{item.name} @ {item.origin()}"], no_deps=True)
            if result.returncode != 0:
                raise PipError(
                    f"locked pip package {item.name} {item.version} cannot be installed again "
                    f"from {item.origin()}: {failure_message(result)}"
                )
            report_data.append(data)
        while requirements:
            result, data = pip.install(requirements, no_deps=locked is not None)
            if result.returncode == 0:
                report_data.append(data)
                break
            missing = [
                name
                for name in MISSING.findall(result.stdout)
                if normalize_name(name) not in from_installed
            ]
            if not missing or locked is not None:
                raise PipError(failure_message(result))
            for name in dict.fromkeys(missing):
                requirement = next(
                    (
                        r
                        for r in requirements
                        if not is_path_entry(r) and requirement_name(r) == normalize_name(name)
                    ),
                    None,
                )
                source = installed_source(
                    name, requirement, current_env, pip_output=output_tail(result.stdout)
                )
                from_installed[normalize_name(name)] = source
                log.info("pip: %s is not on the index; building it from %s", name, source)
                if requirement is not None:
                    requirements[requirements.index(requirement)] = str(source)
                else:
                    requirements.append(str(source))

    index_files = _index_files(locked)
    entries_out = [
        entry
        for data in report_data
        for entry in lock_entries(
            data, set(paths.values()), set(from_installed.values()), index_files
        )
    ]
    return _finished(entries_out, locked, report, "distributions")


def _spec_paths(
    entries: Sequence[str], base_dir: Path | None, locked: Sequence[PipLockEntry] | None
) -> dict[str, Path]:
    """The spec's path entries, resolved. With a lock whose path packages say where they were
    built from, a missing one is left to the lock: the tarball's own ``poncho/spec.json``,
    extracted elsewhere than the project, names ``./mylib`` relative to a folder it left."""
    paths = {}
    lock_has_paths = any(e.source == "path" and e.url for e in locked or ())
    for entry in entries:
        if not is_path_entry(entry, base_dir):
            continue
        try:
            paths[entry] = resolve_path(entry, base_dir)
        except PipError:
            if not lock_has_paths:
                raise
    return paths


def _locked_requirement(item: PipLockEntry, spec_paths: set[Path]) -> list[str]:
    """What installs a locked distribution that has no hashed file again, from exactly its
    source: a URL, a local path (one of the spec's own paths
    comes from the spec), or for an index entry without a file, ``name==version``."""
    if item.source == "url":
        return [f"{item.name} @ {item.url}"]
    if item.source == "path" and item.url:
        path = url_to_path(item.url)
        if path in spec_paths:
            return []
        if not path.exists():
            raise PipError(
                f"locked pip package {item.name} {item.version} came from {path}, which no "
                "longer exists: it cannot be installed again from the same source"
            )
        return [str(path)]
    if item.source == "index":
        return [f"{item.name}=={item.version}"]
    return []  # a path with no URL (older locks): the spec's paths supply it


def _index_files(locked: Sequence[PipLockEntry] | None) -> set[str]:
    """The URLs of a lock's index files, which a replay names directly."""
    return {e.url for e in locked or () if e.source == "index" and e.url}


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
    report.start("pip", total, "requirements", f"{counted(total, 'requirements')} for {platform}")
    with tempfile.TemporaryDirectory(prefix="poncho-pip-", dir=work_dir) as work:
        pip = Pip(prefix / "bin" / "python", options, Path(work), report, target=target)
        files: list[tuple[str, str | None]] = []  # (requirement, sha256 or None)
        index_files = _index_files(locked)  # installed by URL, yet found on an index
        if locked is None:
            requirements = [str(paths[e]) if e in paths else e for e in entries]
            resolved = pip.resolve_for_target(requirements, target)
            for item in resolved.get("install", []):
                info = item.get("download_info", {})
                name = str(item.get("metadata", {}).get("name", ""))
                files.append((f"{name} @ {info.get('url', '')}", report_sha256(info)))
                if not item.get("is_direct"):
                    index_files.add(str(info.get("url", "")))
        else:
            for item in locked:
                if item.source in ("installed", "vcs"):
                    raise PipError(
                        f"locked pip package {item.name} {item.version} was built from a "
                        f"{'repository' if item.source == 'vcs' else 'local source'}, which "
                        f"cannot be done for {platform} on this machine"
                    )
                if item.source in ("index", "url") and item.url:
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
    entries_out = lock_entries(data, set(paths.values()), set(), index_files)
    return _finished(entries_out, locked, report, f"distributions for {platform}")


def _finished(
    entries: list[PipLockEntry],
    locked: Sequence[PipLockEntry] | None,
    report: Reporter,
    what: str,
) -> list[PipLockEntry]:
    """The end of the pip step: a locked install's hashes checked, the count reported."""
    if locked is not None:
        check_hashes(locked, entries)
    report.finish("pip", len(entries), len(entries), "distributions", f"{len(entries)} {what}")
    return entries

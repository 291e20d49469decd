"""Packing an existing conda environment as it is (CCTools' ``pack_env(ENV_DIR_OR_NAME)``).

The environment is packed with conda-pack, read-only: what our tarballs always carry
(``bin/run_in_env``, ``poncho/spec.json``, ``poncho/lock.json``) is written to a temporary
folder and added to the archive, never into the user's environment. The spec is derived
from the environment (every conda package pinned to its version and build, every pip
distribution to its version or to its direct source), the lock from ``conda-meta/*.json``
plus, for the pip distributions, their ``direct_url.json`` (a repository and commit, a URL,
a local folder; none for an index, of which only the version is known). Editable pip
installs (``pip install -e``, ``setup.py develop``) point outside the environment and would
be missing on a worker: each is packed as an installed copy of its current source
(`poncho_create.editable_copy`; its lock entry a ``path`` source with the folder's
digest), or, with `ignore_editable_packages`, left out as CCTools did.

A folder one of our tarballs was unpacked into (``poncho_package_run -u DIR``, or ``tar -x``
and ``bin/run_in_env``) is such an environment too. Its run state is never packed (see
`poncho_create.pack`), and the data its own ``poncho/spec.json`` names (``git``, ``http``)
is kept in the new spec; data that cannot be kept (an unreadable section, a relative git
remote whose folder is unknown here) is refused (DataNotKept) unless `drop_data`, which
leaves all of it out with a warning.
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poncho_core.fs import rmtree
from poncho_create.editable import EditablePackages, egg_links, from_dist_info, from_egg_link
from poncho_create.editable_copy import EditablePlan, pack_editables
from poncho_create.errors import CreateError
from poncho_create.local_inputs import content_digest
from poncho_create.lock import CondaLockEntry, Lock, PipLockEntry, conda_entries_from_prefix
from poncho_create.options import KNOWN_PLATFORMS
from poncho_create.pip_report import report_sha256
from poncho_create.pip_sources import url_to_path
from poncho_create.progress import Reporter

__all__ = ["DataNotKept", "EditablePackages", "PipDistribution", "derive_spec", "pack_existing"]

log = logging.getLogger(__name__)

_SUBDIRS = KNOWN_PLATFORMS | {"noarch"}
_ANACONDA_ORG = "https://conda.anaconda.org/"


class DataNotKept(CreateError):
    """The environment's own spec names data (git/http) the new tarball cannot carry."""


@dataclass(frozen=True)
class PipDistribution:
    """A Python distribution installed in the environment by pip (not by conda)."""

    name: str
    version: str
    dist_info: Path
    editable: bool
    files: tuple[str, ...]  # prefix-relative paths it installed (from RECORD)
    direct_url: Mapping[str, Any] | None = None  # its direct_url.json (PEP 610), if any

    def lock_entry(self) -> PipLockEntry:
        """Where it came from, as ``direct_url.json`` says: a repository and commit, a URL
        (with the sha256 pip recorded), a local folder (with its content digest, if it is
        still there); without one, an index, of which only ``name==version`` is known (pip
        records no hash of the file it installed from an index)."""
        info = self.direct_url or {}
        url = str(info.get("url") or "")
        vcs = info.get("vcs_info")
        if url and isinstance(vcs, Mapping) and vcs.get("commit_id"):
            vcs_url = f"{vcs.get('vcs') or 'git'}+{url}"
            return PipLockEntry(
                self.name, self.version, None, "vcs", vcs_url, str(vcs["commit_id"])
            )
        archive = info.get("archive_info")
        if url and isinstance(archive, Mapping):
            return PipLockEntry(self.name, self.version, report_sha256(info), "url", url)
        if url.startswith("file:") and isinstance(info.get("dir_info"), Mapping):
            path = url_to_path(url)
            digest = content_digest(path) if path.exists() else None
            return PipLockEntry(self.name, self.version, digest, "path", url)
        return PipLockEntry(self.name, self.version, None, "index")


def pack_existing(
    prefix: Path,
    output: Path,
    fmt: str,
    *,
    level: int,
    threads: int,
    report: Reporter,
    platform: str,
    ignore_editable_packages: bool = False,
    drop_data: bool = False,
    lock_out: Path | None = None,
    tmp_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Pack the conda environment at `prefix` into `output`; returns `output`.

    An indexed `output` already there (an earlier pack of this environment) lends the
    members of every unchanged package; `cache_dir` (an environment cache) keeps the
    files' digests, so unchanged files are not hashed again, and lends its tarballs' members.

    Editable pip installs are packed as installed copies of their current sources; with
    `ignore_editable_packages`, their files are left out with a warning. Raises
    EditablePackages (naming it) when one cannot be packed (its source folder is gone);
    DataNotKept when the environment's ``poncho/spec.json`` names data that cannot be kept,
    unless `drop_data` (all its data is then left out, with a warning); PackError when
    conda-pack fails.
    """
    from poncho_create.pack import RUN_IN_ENV, pack_prefix, run_in_env_script

    conda = conda_entries_from_prefix(prefix)
    dists = pip_distributions(prefix, _conda_files(prefix))
    editable = [d for d in dists if d.editable]
    links = egg_links(prefix)
    installed = [d for d in dists if not d.editable]
    work = Path(tempfile.mkdtemp(prefix="poncho-create-pack-", dir=tmp_dir))
    try:
        plan = _editable_plan(prefix, editable, links, work, report, ignore_editable_packages)
        pip = [d.lock_entry() for d in installed] + plan.pip
        spec = _spec_of(conda, pip)
        spec.update(kept_data(prefix, drop_data=drop_data))
        lock = Lock(
            platform=platform,
            spec_hash=_spec_hash(spec),
            channels=tuple(spec["conda"]["channels"]),
            conda=tuple(conda),
            pip=tuple(pip),
        )
        extra = {
            **plan.extra,
            "poncho/spec.json": work / "spec.json",
            "poncho/lock.json": work / "lock.json",
            RUN_IN_ENV: work / "run_in_env",
        }
        extra["poncho/spec.json"].write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        lock.write(extra["poncho/lock.json"])
        extra[RUN_IN_ENV].write_text(run_in_env_script(), encoding="utf-8")
        extra[RUN_IN_ENV].chmod(0o755)
        path = pack_prefix(
            prefix,
            output,
            fmt,
            level=level,
            threads=threads,
            report=report,
            extra_files=extra,
            exclude=plan.exclude,
            ignore_missing_files=True,
            cache_dir=cache_dir,
            # Packing the same environment again (the edit loop of Parsl's and coffea's
            # users): only the members of what changed are compressed again.
            reuse_from=(output,) if output.is_file() else (),
        )
    finally:
        with contextlib.suppress(OSError):  # a temporary folder: best effort
            rmtree(work)
    if lock_out is not None:
        lock.write(lock_out)
    log.info("packed %s into %s", prefix, path)
    return path


def _editable_plan(
    prefix: Path,
    editable: list[PipDistribution],
    links: list[Path],
    work: Path,
    report: Reporter,
    ignore: bool,
) -> EditablePlan:
    """Pack the editable installs as installed copies of their sources, or (`ignore`, as
    CCTools did) leave them out with a warning."""
    if not ignore:
        installs = [
            from_dist_info(prefix, d.name, d.version, d.dist_info, d.files,
                           str((d.direct_url or {}).get("url") or ""))
            for d in editable
        ] + [from_egg_link(prefix, link) for link in links]  # fmt: skip
        return pack_editables(prefix, installs, work, report)
    plan = EditablePlan()
    names = sorted({d.name for d in editable} | {p.stem for p in links})
    if names:
        log.warning("leaving out the editable packages %s", ", ".join(names))
    for dist in editable:
        plan.exclude.update(dist.files)
        plan.exclude.update(
            str(p.relative_to(prefix)) for p in dist.dist_info.rglob("*") if p.is_file()
        )
    plan.exclude.update(str(p.relative_to(prefix)) for p in links)
    return plan


def derive_spec(conda: list[CondaLockEntry], pip: list[PipDistribution]) -> dict[str, Any]:
    """The spec of an environment: conda packages as ``name=version=build`` with the
    channels they came from (in order of first use), pip distributions from an index as
    ``name==version``, the others as a direct reference to their source (``name @
    git+URL@COMMIT``, ``name @ URL``)."""
    return _spec_of(conda, [d.lock_entry() for d in pip])


def _spec_of(conda: list[CondaLockEntry], pip: list[PipLockEntry]) -> dict[str, Any]:
    channels = list(dict.fromkeys(c for c in (_channel(e) for e in conda) if c))
    dependencies: list[Any] = [f"{e.name}={e.version}={e.build}" for e in conda]
    if pip:
        dependencies.append({"pip": sorted(_requirement(entry) for entry in pip)})
    return {"conda": {"channels": channels, "dependencies": dependencies}}


def _requirement(entry: PipLockEntry) -> str:
    if entry.source in ("vcs", "url", "path") and entry.url:
        return f"{entry.name} @ {entry.origin()}"
    return f"{entry.name}=={entry.version}"


def kept_data(prefix: Path, *, drop_data: bool = False) -> dict[str, Any]:
    """The ``git`` and ``http`` sections of ``prefix/poncho/spec.json`` (the spec of the
    tarball the folder was unpacked from), as the new spec carries them; {} if none.

    Raises DataNotKept when there is data that cannot be kept, unless `drop_data`.
    """
    path = prefix / "poncho" / "spec.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return _not_kept(path, f"cannot read it ({exc})", drop_data)
    if not isinstance(doc, dict):
        return _not_kept(path, "it is not a JSON object", drop_data)
    data = {key: doc[key] for key in ("git", "http") if doc.get(key)}
    if not data:
        return {}
    names = (
        ", ".join(f"{key}.{var}" for key, section in data.items() for var in sorted(section))
        if all(isinstance(section, dict) for section in data.values())
        else ", ".join(data)
    )
    if drop_data:
        log.warning("%s: leaving out its data (%s) (--drop-data)", path, names)
        return {}
    from poncho_spec import InvalidSpec, Spec

    try:
        spec = Spec.from_dict(data, source=str(path))
    except InvalidSpec as exc:
        return _not_kept(path, str(exc), drop_data)
    relative = [f"git.{var}" for var, git in spec.git.items() if git.is_relative_path]
    if relative:
        return _not_kept(
            path,
            f"{', '.join(relative)}: a relative git remote, and the folder it was relative "
            "to is not known here",
            drop_data,
        )
    kept = {key: value for key, value in spec.to_dict().items() if key in ("git", "http")}
    log.info("%s: keeping its data (%s)", path, names)
    return kept


def _not_kept(path: Path, reason: str, drop_data: bool) -> dict[str, Any]:
    if drop_data:
        log.warning("%s: leaving out its data (--drop-data): %s", path, reason)
        return {}
    raise DataNotKept(
        f"{path}: the data this spec names cannot be kept in the new tarball: {reason}. "
        "Pass --drop-data to pack the environment without its data"
    )


def pip_distributions(prefix: Path, conda_files: set[str]) -> list[PipDistribution]:
    """The distributions in the environment's site-packages that conda did not install."""
    out = []
    for dist_info in sorted(prefix.glob("lib/python*/site-packages/*.dist-info")):
        rel = dist_info.relative_to(prefix)
        if str(rel / "METADATA") in conda_files or str(rel / "RECORD") in conda_files:
            continue
        meta = _metadata(dist_info / "METADATA")
        if meta is None:
            continue
        name, version = meta
        out.append(
            PipDistribution(
                name=name,
                version=version,
                dist_info=dist_info,
                editable=_is_editable(dist_info),
                files=_record_files(dist_info, prefix),
                direct_url=_direct_url(dist_info),
            )
        )
    return out


def _conda_files(prefix: Path) -> set[str]:
    files: set[str] = set()
    for meta_file in (prefix / "conda-meta").glob("*.json"):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CreateError(f"{meta_file}: unreadable conda metadata: {exc}") from exc
        files.update(str(f) for f in meta.get("files") or ())
    return files


def _metadata(path: Path) -> tuple[str, str] | None:
    try:
        message = email.parser.Parser().parsestr(path.read_text(encoding="utf-8"), headersonly=True)
    except (OSError, UnicodeDecodeError):
        return None
    name, version = message.get("Name"), message.get("Version")
    return (str(name), str(version)) if name and version else None


def _direct_url(dist_info: Path) -> Mapping[str, Any] | None:
    try:
        data = json.loads((dist_info / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_editable(dist_info: Path) -> bool:
    data = _direct_url(dist_info) or {}
    return (data.get("dir_info") or {}).get("editable") is True


def _record_files(dist_info: Path, prefix: Path) -> tuple[str, ...]:
    try:
        lines = (dist_info / "RECORD").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    out = []
    for line in lines:
        path = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
        if not path:
            continue
        target = (dist_info.parent / path).resolve()
        try:
            out.append(str(target.relative_to(prefix.resolve())))
        except ValueError:
            continue  # outside the prefix: nothing of ours to leave out
    return tuple(out)


def _channel(entry: CondaLockEntry) -> str:
    channel = entry.channel.rstrip("/")
    if not channel:
        url = entry.url
        channel = url.rsplit("/", 2)[0] if url.count("/") >= 2 else ""
    last = channel.rsplit("/", 1)[-1]
    if last in _SUBDIRS:
        channel = channel[: -len(last) - 1]
    if channel.startswith(_ANACONDA_ORG):
        channel = channel[len(_ANACONDA_ORG) :]
    return channel


def _spec_hash(spec: dict[str, Any]) -> str:
    from poncho_spec import InvalidSpec, Spec

    try:
        return Spec.from_dict(spec, source="<derived spec>").hash()
    except InvalidSpec as exc:
        # An environment may hold what a spec cannot say (a package from a local path):
        # the tarball is still right; its lock then names the spec by its plain digest.
        log.warning("the spec derived from the environment is not valid: %s", exc)
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

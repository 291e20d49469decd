"""Packing a built prefix into a tarball with conda-pack, with progress in bytes.

Besides the environment, the tarball carries ``poncho/spec.json``, ``poncho/lock.json``,
``bin/run_in_env`` and, for a spec naming data, ``poncho/fetch.pyz`` (written into the
prefix first, so conda-pack packs them as ordinary files). We drive conda-pack's own pieces
(``CondaEnv``, ``Packer``) rather than ``CondaEnv.pack`` to report progress, to write
``.tar.gz`` and ``.tar.zst`` in the indexed layout (`poncho_create.pack_indexed`: one
compressed member per package, reused from earlier tarballs when unchanged, and an index)
and the other formats as one stream (`poncho_create.pack_stream`). The archive is written
to a temp file next to OUTPUT and moved into place only when complete.

The same files give the same bytes (issue 26): member mtimes, owners and order are
normalised, .pyc headers kept valid, and the compressed bytes do not depend on the
thread count or the time. A prefix's run state (a folder a tarball was unpacked into),
the scripts conda-pack writes itself and an earlier tarball's index are never taken from
the prefix.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import warnings
from collections.abc import Collection, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from poncho_core.fs import atomic_output, atomic_write
from poncho_core.tarindex import INDEX_NAME
from poncho_create.errors import PackError
from poncho_create.lock import Lock
from poncho_create.pack_groups import FINISH_FILES
from poncho_create.pack_indexed import COMPRESSION, write_indexed
from poncho_create.pack_normal import pyc_with_mtime, source_date_epoch
from poncho_create.pack_reuse import cached_tarballs
from poncho_create.pack_stream import write_stream
from poncho_create.progress import Reporter

__all__ = [
    "RUN_IN_ENV",
    "add_poncho_files",
    "pack_prefix",
    "pyc_with_mtime",
    "read_member",
    "run_in_env_script",
    "source_date_epoch",
]

log = logging.getLogger(__name__)

RUN_IN_ENV = "bin/run_in_env"

# What a run writes into a folder it prepares (the DIR protocol of docs/dev/contracts.md:
# poncho_package_run's state, bin/run_in_env's marker). Never packed: a tarball holding them
# would be taken as prepared, so conda-unpack would never relocate it where it is unpacked.
RUN_STATE_DIR = ".poncho-run"
RUN_STATE_FILES = frozenset({"poncho/.unpacked"})
# What conda-pack's Packer.finish writes into every archive: a prefix unpacked from one of
# our tarballs has them already; packing them too would give two members of each name.
CONDA_PACK_FILES = FINISH_FILES


def run_in_env_script() -> str:
    """The text of ``bin/run_in_env`` (a POSIX sh script)."""
    return resources.files("poncho_create").joinpath("run_in_env.sh").read_text(encoding="utf-8")


def add_poncho_files(prefix: Path, spec_dict: Mapping[str, Any], lock: Lock) -> None:
    """Write ``poncho/spec.json``, ``poncho/lock.json`` and ``bin/run_in_env`` into `prefix`,
    and ``poncho/fetch.pyz`` when the spec names data (`poncho_create.fetcher`)."""
    from poncho_create.fetcher import write_fetcher

    poncho_dir = prefix / "poncho"
    poncho_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(poncho_dir / "spec.json", json.dumps(spec_dict, indent=2) + "\n")
    lock.write(poncho_dir / "lock.json")
    script = prefix / RUN_IN_ENV
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(run_in_env_script(), encoding="utf-8")
    script.chmod(0o755)
    write_fetcher(prefix, spec_dict)
    # rattler marks the prefix as a cache folder; backup tools would then skip the env.
    (prefix / "CACHEDIR.TAG").unlink(missing_ok=True)


def pack_prefix(
    prefix: Path,
    output: Path,
    fmt: str,
    *,
    level: int,
    threads: int,
    report: Reporter,
    extra_files: Mapping[str, Path] | None = None,
    exclude: Collection[str] = (),
    ignore_missing_files: bool = False,
    cache_dir: Path | None = None,
    reuse_from: Sequence[Path] = (),
) -> Path:
    """Pack `prefix` into `output` (format `fmt`); returns `output`.

    `extra_files` maps archive paths to files packed in addition to the prefix's own
    (replacing a prefix file of the same path), so an environment that is not ours can be
    packed without writing into it; `exclude` lists prefix-relative paths left out.
    `ignore_missing_files` packs an environment whose conda-managed files were deleted
    or overwritten (conda-pack warns instead of refusing), as CCTools did.
    Members are normalised (`poncho_create.pack_normal`); the run state
    (`RUN_STATE_DIR`, `RUN_STATE_FILES`), `CONDA_PACK_FILES` and an earlier tarball's
    index of the prefix are left out.

    ``.tar.gz`` and ``.tar.zst`` are written in the indexed layout
    (`poncho_create.pack_indexed`): with `cache_dir` (an environment cache), the files'
    digests are kept under ``cache_dir/digests`` and members of the cache's tarballs of
    the same format are copied instead of compressed again, as are those of the tarballs
    `reuse_from`. How many members were reused is logged (INFO) and reported as a
    ``members`` note (`Reporter.note`).

    Raises PackError (conda-pack's message) and leaves no partial file behind; an existing
    `output` is replaced only by a complete new archive.
    """
    from conda_pack.core import CondaEnv, CondaPackException

    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackError(f"cannot write {output}: {exc}") from exc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Editable installs are found (and refused or left out) before packing.
            env = CondaEnv.from_prefix(
                str(prefix),
                ignore_editable_packages=True,
                ignore_missing_files=ignore_missing_files,
            )
        except CondaPackException as exc:
            raise PackError(f"conda-pack cannot pack {prefix}: {exc}") from exc
    for warning in caught:
        log.warning("conda-pack: %s", warning.message)

    files = _with_extras(env.files, extra_files or {}, exclude)
    sizes = [_size(f.source) for f in files]
    total = sum(sizes)
    report.start("pack", total, "bytes", f"{len(files)} files")
    mtime = source_date_epoch()
    stats = None
    try:
        with atomic_output(output) as (handle, written):
            if fmt in COMPRESSION:
                reuse = [*reuse_from]
                if cache_dir is not None:
                    reuse += cached_tarballs(Path(cache_dir), fmt)
                stats = write_indexed(
                    handle, str(prefix), files, fmt, level=level, threads=threads, mtime=mtime,
                    report=report, total=total,
                    digests_root=Path(cache_dir) if cache_dir is not None else None,
                    reuse_from=reuse, spool_dir=written.parent,
                )  # fmt: skip
            else:
                write_stream(
                    handle, str(prefix), files, fmt, level=level, threads=threads, mtime=mtime,
                    report=report, total=total, sizes=sizes,
                )  # fmt: skip
    except CondaPackException as exc:
        raise PackError(f"conda-pack failed: {exc}") from exc
    except (OSError, ValueError) as exc:  # ValueError: a file changed while it was packed
        raise PackError(f"packing failed: {exc}") from exc
    report.finish("pack", total, total, "bytes", f"{_size(str(written)) / 1e6:.1f} MB written")
    if stats is not None:
        log.info("%s", stats.message())
        report.note(
            "members", stats.message(), detail={"total": stats.members, "reused": stats.reused}
        )
    return output


def read_member(tarball: Path, name: str, *, limit: int = 16 * 2**20) -> bytes | None:
    """The content of member `name` of a tarball this module wrote (any of its formats,
    a parallel writer's many bzip2 streams too), read in one pass through poncho-core's tar
    reader without unpacking; None if it is not there. PackError if it cannot be read."""
    from poncho_core.errors import ArchiveError
    from poncho_core.tarstream import open_tar

    try:
        with open_tar(tarball) as tar:
            for member in tar:
                if member.name.removeprefix("./") == name and member.isreg():
                    return tar.read_data(member.size) if member.size <= limit else None
    except ArchiveError as exc:  # it names the tarball
        raise PackError(str(exc)) from exc
    except OSError as exc:
        raise PackError(f"{tarball}: cannot read it: {exc}") from exc
    return None


def _with_extras(
    files: list[Any], extra: Mapping[str, Path], exclude: Collection[str]
) -> list[Any]:
    from conda_pack.core import File

    # An index in the prefix is an earlier tarball's (a folder it was unpacked into).
    skipped = set(extra) | set(exclude) | RUN_STATE_FILES | CONDA_PACK_FILES | {INDEX_NAME}
    kept = [f for f in files if f.target not in skipped and not _run_state(f.target)]
    kept += [File(str(source), target, is_conda=False) for target, source in extra.items()]
    return sorted(kept, key=lambda f: f.target)


def _run_state(target: str) -> bool:
    # conda-unpack's import of its progress module leaves a .pyc beside it.
    return target.startswith((RUN_STATE_DIR + "/", "bin/__pycache__/conda_unpack_progress."))


def _size(path: str) -> int:
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    return 0 if stat.S_ISDIR(st.st_mode) else st.st_size

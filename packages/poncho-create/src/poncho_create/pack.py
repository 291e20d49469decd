"""Packing a built prefix into a tarball with conda-pack, with progress in bytes.

Besides the environment, the tarball carries ``poncho/spec.json``, ``poncho/lock.json``,
``bin/run_in_env`` and, for a spec naming data, ``poncho/fetch.pyz`` (written into the
prefix first, so conda-pack packs them as ordinary files). We drive conda-pack's own pieces
(``CondaEnv``, ``Packer``, the archive writers) rather than ``CondaEnv.pack`` to report
progress and to pass the level and thread count to the zstd writer, which
``conda_pack.formats.archive`` 0.9.2 ignores. The archive is written to a temp file next to
OUTPUT and moved into place only when complete.

The same files give the same bytes (issue 26): member mtimes, owners and order are
normalised, .pyc headers kept valid, and the compressed stream does not depend on the
thread count or the time. A prefix's run state (a folder a tarball was unpacked into) and
the scripts conda-pack writes itself are never taken from the prefix.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
import tarfile
import warnings
from collections.abc import Collection, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import IO, Any

from poncho_core.fs import atomic_output, atomic_write
from poncho_create.errors import PackError
from poncho_create.lock import Lock
from poncho_create.progress import Reporter

__all__ = ["RUN_IN_ENV", "add_poncho_files", "pack_prefix", "read_member", "run_in_env_script"]

log = logging.getLogger(__name__)

RUN_IN_ENV = "bin/run_in_env"

# What a run writes into a folder it prepares (the DIR protocol of docs/dev/contracts.md:
# poncho_package_run's state, bin/run_in_env's marker). Never packed: a tarball holding them
# would be taken as prepared, so conda-unpack would never relocate it where it is unpacked.
RUN_STATE_DIR = ".poncho-run"
RUN_STATE_FILES = frozenset({"poncho/.unpacked"})
# What conda-pack's Packer.finish writes into every archive: a prefix unpacked from one of
# our tarballs has them already; packing them too would give two members of each name.
CONDA_PACK_FILES = frozenset(
    {"bin/conda-unpack", "bin/conda_unpack_progress.py", "bin/activate", "bin/deactivate",
     "bin/activate.fish"}
)  # fmt: skip
_REPORT_EVERY = 4 * 2**20  # bytes between two progress events
_DEFAULT_EPOCH = 315532800  # 1980-01-01T00:00:00Z


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
) -> Path:
    """Pack `prefix` into `output` (format `fmt`); returns `output`.

    `extra_files` maps archive paths to files packed in addition to the prefix's own
    (replacing a prefix file of the same path), so an environment that is not ours can be
    packed without writing into it; `exclude` lists prefix-relative paths left out.
    `ignore_missing_files` packs an environment whose conda-managed files were deleted
    or overwritten (conda-pack warns instead of refusing), as CCTools did.
    Members are normalised (see `_tar_archive_class`, `source_date_epoch`); the run state
    (`RUN_STATE_DIR`, `RUN_STATE_FILES`) and `CONDA_PACK_FILES` of the prefix are left out.

    Raises PackError (conda-pack's message) and leaves no partial file behind; an existing
    `output` is replaced only by a complete new archive.
    """
    from conda_pack.core import CondaEnv, CondaPackException, Packer

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
    total = sum(_size(f.source) for f in files)
    report.start("pack", total, "bytes", f"{len(files)} files")
    mtime = source_date_epoch()

    thread_errors: list[BaseException] = []
    try:
        with atomic_output(output) as (handle, written):
            with (
                _thread_errors_kept(thread_errors),
                _archive(handle, fmt, level, threads, mtime) as arc,
            ):
                packer = Packer(str(prefix), arc)
                done = reported = 0
                for file in files:
                    packer.add(file)
                    done += _size(file.source)
                    if done - reported >= _REPORT_EVERY:
                        report("pack", done, total, "bytes")
                        reported = done
                packer.finish()
            if thread_errors:
                raise thread_errors[0]
    except CondaPackException as exc:
        raise PackError(f"conda-pack failed: {exc}") from exc
    except OSError as exc:
        cause = thread_errors[0] if thread_errors else exc
        raise PackError(f"packing failed: {cause}") from exc
    report.finish("pack", total, total, "bytes", f"{_size(str(written)) / 1e6:.1f} MB written")
    return output


@contextlib.contextmanager
def _thread_errors_kept(errors: list[BaseException]) -> Iterator[None]:
    """Keep the exceptions of conda-pack's compressor threads (a full disk fails there first)
    instead of letting Python print their tracebacks; the packing then fails with the first.
    Only threads started here are concerned; others keep the previous hook."""
    import threading

    previous = threading.excepthook
    started = set(threading.enumerate())

    def keep(args: threading.ExceptHookArgs) -> None:
        if args.thread is not None and args.thread not in started and args.exc_value is not None:
            errors.append(args.exc_value)
        else:
            previous(args)

    threading.excepthook = keep
    try:
        yield
    finally:
        threading.excepthook = previous


@contextlib.contextmanager
def _archive(handle: IO[bytes], fmt: str, level: int, threads: int, mtime: int) -> Iterator[Any]:
    """conda-pack's tar writer over the compressor for `fmt`, with our level and threads
    for zstd too, and normalised members (see `_tar_archive_class`)."""
    from conda_pack.formats import (
        ParallelBZ2FileWriter,
        ParallelGzipFileWriter,
        ParallelZstdFileWriter,
    )

    fileobj: Any
    close = True
    # The parallel writers with at least one thread for every thread count: the same bytes
    # on a machine with another number of cores (gzip.GzipFile, bz2.BZ2File and zstd's
    # threads=0 each write other bytes). No file name and mtime 0 in the gzip header.
    threads = max(1, threads)
    if fmt == "tar.gz":
        fileobj = ParallelGzipFileWriter(handle, compresslevel=level, n_threads=threads, mtime=0)
    elif fmt == "tar.bz2":
        fileobj = ParallelBZ2FileWriter(handle, compresslevel=level, n_threads=threads)
    elif fmt == "tar.zst":
        fileobj = ParallelZstdFileWriter(handle, compresslevel=level, n_threads=threads)
    else:
        fileobj, close = handle, False
    with _tar_archive_class()(fileobj, "", close_file=close, mode="w", mtime=mtime) as arc:
        yield arc


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


def _tar_archive_class() -> Any:
    from conda_pack.formats import TarArchive

    class NormalisedTarArchive(TarArchive):  # type: ignore[misc]
        """Members as the same lock always gives them: mtime `self.mtime`, owner 0/0 without
        names (conda-pack sorts nothing: `pack_prefix` passes the files sorted). A .pyc
        checked by timestamp names the mtime of its source: when it names the source's
        current one, it is made to name `self.mtime`, so it stays valid where unpacked
        (no compiling again, none possible in a read-only folder). Whole seconds also spare
        Python's tarfile a PAX header per member."""

        def _add(self, source: str, target: str) -> None:
            info = self._normalised(self.archive.gettarinfo(source, target))
            if not info.isreg():
                self.archive.addfile(info)
            elif target.endswith(".pyc"):
                with open(source, "rb") as handle:
                    self._add_bytes(source, handle.read(), target, info)
            else:
                with open(source, "rb") as handle:
                    self.archive.addfile(info, handle)

        def _add_bytes(
            self,
            source: str,
            sourcebytes: bytes,
            target: str,
            info: tarfile.TarInfo | None = None,
        ) -> None:
            if info is None:
                info = self._normalised(self.archive.gettarinfo(source, target))
            if target.endswith(".pyc"):
                sourcebytes = pyc_with_mtime(source, sourcebytes, int(self.mtime))
            info.size = len(sourcebytes)
            self.archive.addfile(info, io.BytesIO(sourcebytes))

        def _normalised(self, info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.mtime = int(self.mtime)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            return info

    return NormalisedTarArchive


def source_date_epoch() -> int:
    """The mtime of every member: ``$SOURCE_DATE_EPOCH`` (the reproducible-builds
    convention) when it is a whole number >= 0, else 1980-01-01 (the earliest time a zip
    file can hold, so files of an unpacked environment can still be zipped)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else _DEFAULT_EPOCH


def pyc_with_mtime(source: str, data: bytes, mtime: int) -> bytes:
    """`data`, the .pyc file at `source`, made to name `mtime` as its source's mtime when it
    is checked by timestamp and names its source's current mtime and size (a stale or
    hash-based .pyc, or one without its source, is left as it is)."""
    if len(data) < 16 or data[4:8] != b"\0\0\0\0":
        return data
    pyc = Path(source)
    if pyc.parent.name == "__pycache__":
        py = pyc.parent.parent / (pyc.name.split(".", 1)[0] + ".py")
    else:
        py = pyc.with_suffix(".py")  # a Python 2 style mod.pyc beside mod.py
    try:
        st = py.stat()
    except OSError:
        return data
    if data[8:12] != _u32(int(st.st_mtime)) or data[12:16] != _u32(st.st_size):
        return data
    return data[:8] + _u32(mtime) + data[12:]


def _u32(value: int) -> bytes:
    return (value & 0xFFFFFFFF).to_bytes(4, "little")


def _with_extras(
    files: list[Any], extra: Mapping[str, Path], exclude: Collection[str]
) -> list[Any]:
    from conda_pack.core import File

    skipped = set(extra) | set(exclude) | RUN_STATE_FILES | CONDA_PACK_FILES
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

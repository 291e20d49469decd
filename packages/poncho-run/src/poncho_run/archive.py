"""Environment archives: the formats poncho-run takes, and unpacking one safely.

The reading and the checks are poncho-core's (`poncho_core.compression`,
`poncho_core.extract`, shared with poncho-fetch's data archives, and
`poncho_core.extract_indexed` for indexed tarballs); this module adds what is
particular to environments: a clear error for a file that is no environment archive, and
the bound on what one may unpack to (`unpack_limit`).
"""

from __future__ import annotations

import os
import shutil

from poncho_core.compression import Limits, is_tar
from poncho_core.compression import sniff as sniff_compression
from poncho_core.extract import extract
from poncho_run.errors import EnvironmentNotFound, RunError, UnpackError, UnsupportedArchive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from poncho_run.store import NodeStore

__all__ = [
    "FORMATS",
    "MAX_UNPACKED_ENV",
    "check_extracted",
    "extract_environment",
    "sniff",
    "unpack_limit",
]

#: Archive formats poncho-run reads, as `sniff` names them.
FORMATS = ("gzip", "zstd", "bzip2", "xz", "tar")

MAX_UNPACKED_ENV = "PONCHO_RUN_MAX_UNPACKED"


def sniff(path: str | os.PathLike[str]) -> str:
    """Name the format of the archive at `path` (one of `FORMATS`) from its first bytes.

    Raises `EnvironmentNotFound` if it does not exist and `UnsupportedArchive` if it is
    not one of the formats.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(262)
    except FileNotFoundError as exc:
        raise EnvironmentNotFound(f"{os.fspath(path)}: no such environment file") from exc
    except OSError as exc:
        raise RunError(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from exc
    found = sniff_compression(head) or ("tar" if is_tar(head) else None)
    if found is None:
        raise UnsupportedArchive(
            f"{os.fspath(path)}: not an environment archive (expected a tar, tar.gz, tar.zst, "
            "tar.bz2 or tar.xz made by poncho_package_create or conda-pack)"
        )
    return found


def unpack_limit(dest: str | os.PathLike[str]) -> int | None:
    """The most bytes an archive may unpack to in `dest`: ``$PONCHO_RUN_MAX_UNPACKED`` (a
    size such as ``50G``; ``0`` for no limit), else the free space of its file system less
    a reserve (5% of the file system, at most 1 GiB), so that a small archive that unpacks
    to terabytes (a decompression bomb) stops before it fills a disk other jobs share."""
    text = os.environ.get(MAX_UNPACKED_ENV, "").strip()
    if text:
        from poncho_core.fs import parse_size

        try:
            return parse_size(text) or None
        except ValueError:
            raise UnpackError(
                f"${MAX_UNPACKED_ENV} (--max-unpacked-size): invalid size {text!r} (e.g. 50G, 500M)"
            ) from None
    usage = shutil.disk_usage(dest)
    return max(usage.free - min(usage.total // 20, 1 << 30), 0)


def extract_environment(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    use_programs: bool = True,
    store: NodeStore | None = None,
) -> int:
    """Extract the environment archive `archive` into the existing folder `dest`, within
    `unpack_limit`; returns the number of members. With `store`, its files are shared
    through the node store (`poncho_run._stored`), and an indexed tarball
    (`poncho_core.tarindex`) is read by its index: members the store holds are not
    decompressed, and an index that lies is refused (`poncho_core.tarindex.BadIndex`, an
    `UnsafeArchive`). Without a store, every archive is read as one stream: the index would
    save nothing there, and the stream extractor, which hashes nothing, is the faster of the
    two (benchmarks/RESULTS.md); the index then is never read, so never trusted. Raises
    `EnvironmentNotFound`, `UnsupportedArchive`, `UnsafeArchive`, `LimitExceeded` or
    `UnpackError`."""
    sniff(archive)
    limit = Limits(
        max_bytes=unpack_limit(dest),
        max_bytes_source=f"for {os.fspath(dest)}: ${MAX_UNPACKED_ENV} or --max-unpacked-size, "
        "else the free space less a reserve",
    )
    if store is None:
        return extract(archive, dest, use_programs=use_programs, limits=limit)
    from poncho_core.tarfooter import has_footer

    index = None
    if has_footer(archive):  # only then the index's reader is imported (~15 ms)
        from poncho_core.tarindex import read_index

        try:
            index = read_index(archive)
        except UnsupportedArchive:  # a zstd index, no zstandard module: the zstd program reads it
            index = None
    from poncho_run._stored import extract_with_store

    return extract_with_store(
        os.fspath(archive), os.fspath(dest), store, index, use_programs, limit
    )


def check_extracted(folder: str) -> None:
    """Check a tree that ``tar`` extracted (the shell front end's path on a worker with no
    python3) as `extract` checks members: no device file, FIFO or socket, no symbolic link
    resolving outside `folder`; setuid/setgid/sticky bits are dropped. Raises
    `UnsafeArchive` naming the first offending path (relative to `folder`)."""
    import stat

    from poncho_run.errors import UnsafeArchive

    # str paths and os calls: this walks every file of the environment.
    root = os.path.realpath(folder)
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(current, name)  # noqa: PTH118
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                target = os.path.realpath(path)
                if os.path.commonpath([root, target]) != root:
                    raise UnsafeArchive(rel, f"symbolic link points outside the folder ({target})")
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                raise UnsafeArchive(rel, "device file")
            elif stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
                raise UnsafeArchive(rel, "FIFO or socket")
            elif info.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
                os.chmod(path, stat.S_IMODE(info.st_mode) & 0o777)  # noqa: PTH101

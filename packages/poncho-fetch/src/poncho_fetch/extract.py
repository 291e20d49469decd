"""Undo compression and extract tar archives safely.

Compression is recognised from the first bytes of the data (gzip, bzip2, xz, and zstd when
the optional `zstandard` module is importable); the spec's ``compression`` value is only a
hint. Tar members are checked one by one as they are extracted: an absolute name, a ``..``
component, a symbolic or hard link leading out of the target folder, a member written
through a link out of it, and device or FIFO files are refused with :class:`UnsafeArchive`.
Where Python offers it (3.10.12+), the standard library's ``data`` filter is applied too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from poncho_fetch.errors import FetchError, UnsafeArchive

if TYPE_CHECKING:
    import tarfile

__all__ = [
    "decompress_file",
    "decompressed_name",
    "normalize_compression",
    "open_decompressed",
    "safe_extract",
    "sniff_compression",
]

log = logging.getLogger(__name__)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_ALIASES = {
    "gzip": "gzip",
    "gz": "gzip",
    "tgz": "gzip",
    "bzip2": "bzip2",
    "bz2": "bzip2",
    "xz": "xz",
    "lzma": "xz",
    "zstd": "zstd",
    "zst": "zstd",
    "zstandard": "zstd",
}
_NONE = {"", "none", "identity", "uncompressed"}
_TAR_SUFFIXES = (".tgz", ".tbz2", ".txz")
# Longest first, so that ".tgz" wins over ".gz".
_SUFFIXES = (*_TAR_SUFFIXES, ".gzip", ".zstd", ".bz2", ".zst", ".gz", ".xz")
_COPY_CHUNK = 1 << 20


def normalize_compression(name: str | None) -> str | None:
    """The canonical name ("gzip", "bzip2", "xz", "zstd") of a compression hint, or None.

    Unknown names are kept (lowercased): content sniffing decides in the end.
    """
    if name is None or name.strip().lower() in _NONE:
        return None
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def sniff_compression(head: bytes) -> str | None:
    """The compression the first bytes of some data reveal, or None for plain data."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def decompressed_name(name: str) -> str:
    """A file name with its compression suffix removed (``x.tgz`` becomes ``x.tar``)."""
    lower = name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + (".tar" if suffix in _TAR_SUFFIXES else "")
    return name


@contextlib.contextmanager
def open_decompressed(path: Path, hint: str | None = None) -> Iterator[IO[bytes]]:
    """Open `path` for reading, undoing the compression its content shows.

    `hint` (the spec's ``compression``) is only logged when the content disagrees.
    """
    with open(path, "rb") as raw:
        kind = sniff_compression(raw.read(8))
        raw.seek(0)
        wanted = normalize_compression(hint)
        if wanted is not None and wanted != kind:
            log.info(
                "%s: compression given as %r but the content looks %s; going by the content",
                path.name,
                hint,
                kind or "uncompressed",
            )
        stream: Any
        # Imported here: `import poncho_fetch` stays light for callers that hit the cache.
        import bz2
        import gzip
        import lzma

        if kind is None:
            stream = raw
        elif kind == "gzip":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif kind == "bzip2":
            stream = bz2.BZ2File(raw, mode="rb")
        elif kind == "xz":
            stream = lzma.LZMAFile(raw, mode="rb")  # noqa: SIM115
        else:
            stream = _zstd_reader(raw, path)
        with stream:
            yield stream


def _zstd_reader(raw: IO[bytes], path: Path) -> IO[bytes]:
    try:
        import zstandard
    except ImportError:
        raise FetchError(
            f"{path.name} is zstd-compressed: install the 'zstandard' package to read it"
        ) from None
    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return reader


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    """What a corrupt or truncated compressed stream (or a failing disk) raises."""
    import lzma
    import zlib

    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)
    try:
        import zstandard
    except ImportError:
        return errors
    return (*errors, zstandard.ZstdError)


def decompress_file(
    src: Path, dest: Path, hint: str | None = None, *, name: str | None = None
) -> None:
    """Write the decompressed content of `src` to `dest` (a plain copy if not compressed).

    `name` stands for `src` in messages (e.g. the file name in the URL).
    """
    name = name or src.name
    try:
        with open_decompressed(src, hint) as stream, open(dest, "wb") as out:
            shutil.copyfileobj(stream, out, _COPY_CHUNK)
    except FetchError:
        raise
    except _corrupt_errors() as exc:
        raise FetchError(f"{name}: cannot decompress: {exc}") from exc


def safe_extract(
    archive: Path, dest: Path, hint: str | None = None, *, name: str | None = None
) -> None:
    """Extract the tar file `archive` (compressed or not) into the folder `dest`.

    Raises UnsafeArchive for a member that would escape `dest` or is a device, and
    FetchError for a corrupt archive; `dest` may hold a partial extraction then. `name`
    stands for `archive` in messages (e.g. the file name in the URL).
    """
    name = name or archive.name
    import tarfile

    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    extra: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with (
            open_decompressed(archive, hint) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            tar.extractall(dest, members=_checked_members(tar, root), **extra)
    except UnsafeArchive as exc:
        raise UnsafeArchive(f"{name}: {exc}") from None
    except FetchError:
        raise
    except tarfile.TarError as exc:
        # The standard library's filter (FilterError) refusing a member, or a malformed tar.
        kind = UnsafeArchive if _is_filter_error(exc) else FetchError
        raise kind(f"{name}: cannot extract: {exc}") from exc
    except _corrupt_errors() as exc:
        raise FetchError(f"{name}: cannot extract: {exc}") from exc


def _is_filter_error(exc: BaseException) -> bool:
    import tarfile

    filter_error = getattr(tarfile, "FilterError", None)
    return filter_error is not None and isinstance(exc, filter_error)


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _check_name(name: str, what: str) -> None:
    if not name or "\x00" in name:
        raise UnsafeArchive(f"{what}: empty or invalid name")
    if PurePosixPath(name).is_absolute() or Path(name).is_absolute():
        raise UnsafeArchive(f"{what}: absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise UnsafeArchive(f"{what}: '..' in path")


def _checked_members(tar: tarfile.TarFile, root: Path) -> Iterator[tarfile.TarInfo]:
    """Yield the members of a tar read as a stream, each checked just before extraction.

    Checking at that moment (rather than listing everything first) lets the checks look at
    the links earlier members created on disk.
    """
    for member in tar:
        what = f"tar member {member.name!r}"
        _check_name(member.name, what)
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise UnsafeArchive(f"{what}: device, FIFO or other special file refused")
        target = root / member.name
        if not _inside(root, target.parent.resolve()):
            raise UnsafeArchive(f"{what}: would be written through a link out of the folder")
        if member.issym():
            if PurePosixPath(member.linkname).is_absolute():
                raise UnsafeArchive(f"{what}: symbolic link to an absolute path")
            if not _inside(root, (target.parent / member.linkname).resolve()):
                raise UnsafeArchive(
                    f"{what}: symbolic link out of the folder ({member.linkname!r})"
                )
        elif member.islnk():
            _check_name(member.linkname, f"{what}: hard link to {member.linkname!r}")
            if not _inside(root, (root / member.linkname).resolve()):
                raise UnsafeArchive(f"{what}: hard link out of the folder ({member.linkname!r})")
        # Never setuid/setgid/sticky nor writable by others; owned by whoever extracts.
        member.mode &= 0o755
        member.uid, member.gid = os.getuid(), os.getgid()
        member.uname = member.gname = ""
        yield member

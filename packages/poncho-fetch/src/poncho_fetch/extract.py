"""Undo compression and extract tar archives safely.

Compression is recognised from the first bytes of the data (gzip, bzip2, xz, and zstd when
the optional `zstandard` module is importable); the spec's ``compression`` value is only a
hint. Tar members are checked one by one as they are extracted: an absolute name, a ``..``
component, a symbolic or hard link leading out of the target folder, a member written
through a link out of it, and device or FIFO files are refused with :class:`UnsafeArchive`.
Where Python offers it (3.10.12+), the standard library's ``data`` filter is applied too.

Hostile input is bounded while it streams, before it is written: the decompressed bytes by
``max_bytes`` (the cache's size limit of one entry) and by ``max_ratio`` times the
compressed size (a 1 MB gzip of zeros would otherwise write a GiB; small files may expand to
:data:`RATIO_FLOOR` whatever their ratio); the sum of the members' sizes by ``max_bytes``
(a sparse member is small in the archive, big on disk). Members deeper than
:data:`MAX_PATH_DEPTH` folders or with longer names than the file system takes are refused;
a modification time that is no number of seconds (``nan``, ``1e400``) becomes 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, cast

from poncho_fetch.errors import FetchError, LimitExceeded, UnsafeArchive

if TYPE_CHECKING:
    import tarfile

__all__ = [
    "DEFAULT_MAX_RATIO",
    "MAX_PATH_DEPTH",
    "RATIO_FLOOR",
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

DEFAULT_MAX_RATIO = 100.0
"""Largest decompressed/compressed size ratio accepted by default (0 or None: no limit)."""
RATIO_FLOOR = 64 << 20
"""Bytes any compressed file may expand to, whatever its ratio."""
MAX_PATH_DEPTH = 256
"""Most folders a tar member's path may have."""
_MAX_NAME_BYTES = 4000  # PATH_MAX is 4096, and the member lands under the cache's folder
_MAX_MTIME = 2**37  # the year 6325: beyond it, utime() overflows on some systems


class _Budget:
    """How many decompressed bytes an entry may produce; raises LimitExceeded past it."""

    def __init__(
        self, name: str, compressed: int, max_bytes: int | None, max_ratio: float | None
    ) -> None:
        self.name = name
        self.limits: list[tuple[int, str]] = []
        if max_bytes is not None:
            self.limits.append((max_bytes, f"the {max_bytes} byte limit of one entry"))
        if max_ratio:
            allowed = max(int(max_ratio * compressed), RATIO_FLOOR)
            self.limits.append(
                (allowed, f"{max_ratio:g} times its compressed size of {compressed} bytes")
            )

    def check(self, count: int, what: str = "decompressed") -> None:
        for limit, said in self.limits:
            if count > limit:
                raise LimitExceeded(
                    f"{self.name}: {what} size over {said} (a decompression bomb?); stopped "
                    "and removed"
                )


class _LimitedReader:
    """A read-only stream that counts what it returns against a budget."""

    def __init__(self, stream: IO[bytes], budget: _Budget) -> None:
        self._stream = stream
        self._budget = budget
        self.count = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(_COPY_CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        data = self._stream.read(size)
        self.count += len(data)
        self._budget.check(self.count)
        return data


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
    src: Path,
    dest: Path,
    hint: str | None = None,
    *,
    name: str | None = None,
    max_bytes: int | None = None,
    max_ratio: float | None = DEFAULT_MAX_RATIO,
) -> None:
    """Write the decompressed content of `src` to `dest` (a plain copy if not compressed).

    `name` stands for `src` in messages (e.g. the file name in the URL). More than
    `max_bytes`, or than `max_ratio` times the size of `src`, raises LimitExceeded (`dest`
    is then partial: the caller removes it).
    """
    name = name or src.name
    try:
        budget = _Budget(name, src.stat().st_size, max_bytes, max_ratio)
        with open_decompressed(src, hint) as stream, open(dest, "wb") as out:
            reader = cast(IO[bytes], _LimitedReader(stream, budget))
            shutil.copyfileobj(reader, out, _COPY_CHUNK)
    except FetchError:
        raise
    except _corrupt_errors() as exc:
        raise FetchError(f"{name}: cannot decompress: {_reason(exc)}") from exc


def safe_extract(
    archive: Path,
    dest: Path,
    hint: str | None = None,
    *,
    name: str | None = None,
    max_bytes: int | None = None,
    max_ratio: float | None = DEFAULT_MAX_RATIO,
) -> None:
    """Extract the tar file `archive` (compressed or not) into the folder `dest`.

    Raises UnsafeArchive for a member that would escape `dest` or is a device,
    LimitExceeded past `max_bytes` or `max_ratio` (see the module doc), and FetchError for
    a corrupt archive; `dest` may hold a partial extraction then. `name` stands for
    `archive` in messages (e.g. the file name in the URL).
    """
    name = name or archive.name
    import tarfile

    try:
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        budget = _Budget(name, archive.stat().st_size, max_bytes, max_ratio)
    except OSError as exc:
        raise FetchError(f"{name}: cannot extract into {dest}: {_reason(exc)}") from exc
    extra: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with (
            open_decompressed(archive, hint) as stream,
            tarfile.open(fileobj=cast(IO[bytes], _LimitedReader(stream, budget)), mode="r|") as tar,
        ):
            tar.extractall(dest, members=_checked_members(tar, root, budget), **extra)
    except (UnsafeArchive, LimitExceeded) as exc:
        raise type(exc)(f"{name}: {exc}" if not str(exc).startswith(name) else str(exc)) from None
    except FetchError:
        raise
    except tarfile.TarError as exc:
        # The standard library's filter (FilterError) refusing a member, or a malformed tar.
        kind = UnsafeArchive if _is_filter_error(exc) else FetchError
        raise kind(f"{name}: cannot extract: {_reason(exc)}") from exc
    except _unusable_errors() as exc:
        # ValueError/OverflowError: header fields tarfile decodes but cannot use.
        raise FetchError(f"{name}: cannot extract: {_reason(exc)}") from exc


def _unusable_errors() -> tuple[type[BaseException], ...]:
    return (*_corrupt_errors(), ValueError, OverflowError, RecursionError)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _is_filter_error(exc: BaseException) -> bool:
    import tarfile

    filter_error = getattr(tarfile, "FilterError", None)
    return filter_error is not None and isinstance(exc, filter_error)


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _check_name(name: str, what: str) -> None:
    if not name or "\x00" in name:
        raise UnsafeArchive(f"{what}: empty or invalid name")
    if len(name.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
        raise UnsafeArchive(f"{what}: path longer than {_MAX_NAME_BYTES} bytes")
    if name.count("/") > MAX_PATH_DEPTH:
        raise UnsafeArchive(f"{what}: path deeper than {MAX_PATH_DEPTH} folders")
    if PurePosixPath(name).is_absolute() or Path(name).is_absolute():
        raise UnsafeArchive(f"{what}: absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise UnsafeArchive(f"{what}: '..' in path")


def _checked_members(
    tar: tarfile.TarFile, root: Path, budget: _Budget
) -> Iterator[tarfile.TarInfo]:
    """Yield the members of a tar read as a stream, each checked just before extraction.

    Checking at that moment (rather than listing everything first) lets the checks look at
    the links earlier members created on disk.
    """
    total = 0
    for member in tar:
        what = f"tar member {member.name[:200]!r}"
        _check_name(member.name, what)
        total += max(member.size, 0)
        budget.check(total, f"tar member {member.name[:200]!r}: total unpacked")
        try:
            _check_member(member, root, what)
        except (OSError, RuntimeError) as exc:  # a link loop, a name too long
            raise UnsafeArchive(f"{what}: cannot resolve its path: {exc}") from None
        if not isinstance(member.mtime, (int, float)) or not 0 <= member.mtime <= _MAX_MTIME:
            member.mtime = 0  # nan, inf, 1e400, a huge base-256 number: utime() cannot
        # Never setuid/setgid/sticky nor writable by others; owned by whoever extracts.
        member.mode &= 0o755
        member.uid, member.gid = os.getuid(), os.getgid()
        member.uname = member.gname = ""
        yield member


def _check_member(member: tarfile.TarInfo, root: Path, what: str) -> None:
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchive(f"{what}: device, FIFO or other special file refused")
    target = root / member.name
    if not _inside(root, target.parent.resolve()):
        raise UnsafeArchive(f"{what}: would be written through a link out of the folder")
    if member.issym():
        if PurePosixPath(member.linkname).is_absolute():
            raise UnsafeArchive(f"{what}: symbolic link to an absolute path")
        if not _inside(root, (target.parent / member.linkname).resolve()):
            raise UnsafeArchive(f"{what}: symbolic link out of the folder ({member.linkname!r})")
    elif member.islnk():
        _check_name(member.linkname, f"{what}: hard link to {member.linkname!r}")
        if not _inside(root, (root / member.linkname).resolve()):
            raise UnsafeArchive(f"{what}: hard link out of the folder ({member.linkname!r})")

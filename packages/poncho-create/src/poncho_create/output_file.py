"""The OUTPUT file of a build: what may be overwritten, and how a cached tarball gets there.

An existing OUTPUT is overwritten only when it is empty (Parsl hands over a fresh
``.tmpXXXX.tar.gz``), not a regular file (``/dev/stdout``), or a tarball of a conda
environment (conda-pack's or ours: a ``conda-meta/`` folder or ``poncho/spec.json`` among
its first members); anything else needs ``force`` (``--force``), as conda-pack asks.
The folder OUTPUT goes into must exist: it is not created.

A cache hit becomes OUTPUT by a copy written with poncho-core's atomic writer: a reflink
(``FICLONE``) where the filesystem shares blocks (btrfs, XFS), else ``copy_file_range`` (in
the kernel), else a plain copy. Never a hard link: users may modify OUTPUT, and the cache
entry must not change with it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, BinaryIO

from poncho_core.fs import atomic_output
from poncho_create.errors import CreateError, OutputExists, PackError

__all__ = ["check_folder_exists", "check_overwrite", "copy_tarball", "is_env_tarball"]

# How far into an existing tarball to look for conda-meta/ (conda-pack sorts its members:
# only bin/ comes before it), so that a large data tarball is refused in seconds.
_MEMBERS = 20000
_BYTES = 512 << 20
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


def check_folder_exists(path: Path) -> None:
    """CreateError unless the folder `path` goes into exists: OUTPUT's folders are not
    created (a typo would otherwise build an environment into a new tree), as conda-pack."""
    if not os.path.lexists(Path(os.path.realpath(path)).parent):
        raise CreateError(
            f"OUTPUT {path}: the folder {Path(path).parent} does not exist (create it first)"
        )


def check_overwrite(path: Path, *, force: bool) -> None:
    """OutputExists unless `path` may be overwritten (see the module's rules)."""
    try:
        st = path.stat()
    except OSError:
        return  # missing (or unreadable: the writability check names it)
    if force or not stat.S_ISREG(st.st_mode) or st.st_size == 0 or is_env_tarball(path):
        return
    raise OutputExists(
        f"OUTPUT {path}: exists and is not an environment tarball; not overwriting it "
        "(--force overwrites it)"
    )


def is_env_tarball(path: Path) -> bool:
    """True for a tarball of a conda environment (any format create writes)."""
    import zstandard

    from poncho_core.errors import ArchiveError
    from poncho_core.tarindex import read_index

    try:
        index = read_index(path)  # an indexed tarball: its index names its files
    except (ArchiveError, OSError):
        return False
    if index is not None:
        return any(
            f.path.startswith("conda-meta/") or f.path == "poncho/spec.json" for f in index.files
        )
    try:
        with open(path, "rb") as raw:
            stream: IO[bytes] = raw
            if raw.read(4) == b"\x28\xb5\x2f\xfd":  # zstd, which tarfile does not know (< 3.14)
                stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            raw.seek(0)
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for count, member in enumerate(tar):
                    name = member.name.removeprefix("./")
                    if name.startswith("conda-meta/") or name == "poncho/spec.json":
                        return True
                    if count >= _MEMBERS or member.offset > _BYTES:
                        break
    except (OSError, tarfile.TarError, EOFError, zstandard.ZstdError):
        return False
    return False


def copy_tarball(source: Path, output: Path) -> Path:
    """Copy `source` to `output` atomically (a reflink where possible); returns `output`.
    PackError naming OUTPUT if it cannot be written (nothing partial is left there)."""
    try:
        with open(source, "rb") as src, atomic_output(output) as (out, _target):
            _copy(src, out)
    except OSError as exc:
        raise PackError(f"OUTPUT {output}: cannot write it: {exc.strerror or exc}") from exc
    return output


def _copy(src: BinaryIO, out: BinaryIO) -> None:
    with contextlib.suppress(OSError, ImportError):
        import fcntl

        fcntl.ioctl(out.fileno(), _FICLONE, src.fileno())
        return
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is not None:
        size = os.fstat(src.fileno()).st_size
        done = 0
        try:
            while done < size:
                sent = copy_file_range(src.fileno(), out.fileno(), size - done)
                if sent == 0:
                    break
                done += sent
            if done == size:
                return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
        if done:  # a partial copy: start again
            src.seek(0)
            out.seek(0)
            out.truncate()
    shutil.copyfileobj(src, out, 1 << 20)

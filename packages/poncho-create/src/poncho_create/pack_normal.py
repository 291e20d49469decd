"""Normalised tar members: what makes a tarball's bytes depend on the files alone.

Every member gets the same mtime (`source_date_epoch`), owner 0/0 and no user or group
names; a timestamp-checked ``.pyc`` naming its source's current mtime is made to name that
mtime instead (`pyc_with_mtime`), so it stays valid where the tarball is unpacked. Both the
single-stream writer (`poncho_create.pack_stream`) and the indexed one
(`poncho_create.pack_entries`) use these.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

__all__ = ["DEFAULT_EPOCH", "normalised", "pyc_with_mtime", "source_date_epoch"]

DEFAULT_EPOCH = 315532800  # 1980-01-01T00:00:00Z


def source_date_epoch() -> int:
    """The mtime of every member: ``$SOURCE_DATE_EPOCH`` (the reproducible-builds
    convention) when it is a whole number >= 0, else 1980-01-01 (the earliest time a zip
    file can hold, so files of an unpacked environment can still be zipped)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else DEFAULT_EPOCH


def normalised(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    """`info` with mtime `mtime`, owner 0/0 and no owner names (whole seconds also spare
    Python's tarfile a PAX header per member)."""
    info.mtime = int(mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pyc_with_mtime(source: str, data: bytes, mtime: int) -> bytes:
    """`data`, the .pyc file at `source`, made to name `mtime` as its source's mtime when it
    is checked by timestamp and names its source's current mtime and size (a stale or
    hash-based .pyc, or one without its source, is left as it is)."""
    if len(data) < 16 or data[4:8] != b"\0\0\0\0":
        return data
    py = py_source(source)
    try:
        st = py.stat()
    except OSError:
        return data
    if data[8:12] != _u32(int(st.st_mtime)) or data[12:16] != _u32(st.st_size):
        return data
    return data[:8] + _u32(mtime) + data[12:]


def py_source(pyc: str) -> Path:
    """The source file a ``.pyc`` is compiled from (``__pycache__/m.cpython-312.pyc`` ->
    ``m.py``; a Python 2 style ``m.pyc`` -> ``m.py`` beside it)."""
    path = Path(pyc)
    if path.parent.name == "__pycache__":
        return path.parent.parent / (path.name.split(".", 1)[0] + ".py")
    return path.with_suffix(".py")


def _u32(value: int) -> bytes:
    return (value & 0xFFFFFFFF).to_bytes(4, "little")

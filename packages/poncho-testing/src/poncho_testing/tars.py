"""Hand-made tar archives, and the one table of malicious members every extractor is tested on.

`UNSAFE_MEMBERS` is run against each entry point that extracts an archive: poncho-core's
``extract`` itself, ``poncho_package_run -e`` (environments) and poncho-fetch's ``tar`` data
(over a real HTTP server). Each case is a list of members (`member`) that must be refused
with ``UnsafeArchive``, nothing written outside the target folder; `reason` gives a fragment
of the refusal's wording.

`STATE_FOLDER_MEMBERS` are environment archives that carry poncho_package_run's own state
folder (``.poncho-run/``) in a shape that would stop DIR's state being written or
published: refused by ``poncho_package_run`` (its Python engine and its tar path) and DIR
left usable, although a plain extraction (data) takes them. `PACKED_STATE_MEMBERS` is what
an archive packed from a used DIR holds there: dropped, not refused.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PACKED_STATE_MEMBERS",
    "SAFE_MEMBERS",
    "STATE_FOLDER_MEMBERS",
    "UNSAFE_MEMBERS",
    "Unsafe",
    "drop_record",
    "edit_member",
    "edit_record",
    "make_indexed_tar",
    "make_tar",
    "member",
    "tar_bytes",
]

Member = tuple[tarfile.TarInfo, "bytes | None"]

SYM, LNK, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


def member(
    name: str,
    data: bytes = b"",
    *,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    mode: int = 0o644,
    mtime: int = 1_600_000_000,
) -> Member:
    """One archive member for `make_tar`."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.linkname = linkname
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
        return info, data
    return info, None


def tar_bytes(members: Iterable[Member], mode: str = "w") -> bytes:
    """The bytes of an archive of `members` (pax format; `mode` as ``tarfile.open``'s)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def make_tar(path: Path, members: Iterable[Member], mode: str = "w:gz") -> Path:
    """Write an archive of `members` to `path` and return it."""
    path.write_bytes(tar_bytes(members, mode))
    return path


@dataclass(frozen=True)
class Unsafe:
    """A malicious archive: its `members`, and a fragment of the refusal's `reason`."""

    members: list[Member]
    reason: str


#: A harmless archive for the same tests: a folder, files, links inside.
SAFE_MEMBERS: list[Member] = [
    member("top", kind=DIR, mode=0o755),
    member("top/a.txt", b"alpha\n"),
    member("top/sub/b.txt", b"beta\n", mode=0o6777),
    member("top/link", kind=SYM, linkname="a.txt"),
    member("top/hard", kind=LNK, linkname="top/a.txt"),
]

_OUT = "../outside.txt"

UNSAFE_MEMBERS: dict[str, Unsafe] = {
    "absolute path": Unsafe([member("/abs.txt", b"x")], "absolute path"),
    "dot-dot": Unsafe([member(_OUT, b"overwritten")], "'..'"),
    "dot-dot inside": Unsafe([member("a/b/../../../outside.txt", b"overwritten")], "'..'"),
    "dot-dot with backslashes": Unsafe([member("..\\outside.txt", b"x")], "'..'"),
    "path too long": Unsafe([member("n" * 250 + "/" + "m" * 4000, b"x")], "longer than"),
    "path too deep": Unsafe([member("d/" * 300 + "f", b"x")], "folders deep"),
    "symlink to an absolute path": Unsafe(
        [member("etc", kind=SYM, linkname="/etc")], "absolute path"
    ),
    "symlink out": Unsafe([member("out", kind=SYM, linkname=_OUT)], "outside the folder"),
    "symlink out deep": Unsafe(
        [member("a/b/out", kind=SYM, linkname="../../../outside.txt")], "outside the folder"
    ),
    "symlink out through another link": Unsafe(
        [member("d/up", kind=SYM, linkname=".."), member("esc", kind=SYM, linkname="d/up/" + _OUT)],
        "outside the folder",
    ),
    "link chain, escaping link first": Unsafe(
        [member("k", kind=SYM, linkname="d/" + _OUT), member("d", kind=SYM, linkname=".")],
        "outside the folder",
    ),
    "link chain, helper link first": Unsafe(
        [member("d", kind=SYM, linkname="."), member("k", kind=SYM, linkname="d/" + _OUT)],
        "outside the folder",
    ),
    "file through a symlink": Unsafe(
        [
            member("sub", kind=DIR),
            member("lnk", kind=SYM, linkname="sub"),
            member("lnk/file", b"x"),
        ],
        "goes through the symbolic link",
    ),
    "file through a symlink out": Unsafe(
        [
            member("x", kind=DIR),
            member("x/up", kind=SYM, linkname=".."),
            member("esc", kind=SYM, linkname="x/up/../outside"),
            member("esc/pwned.txt", b"x"),
        ],
        "symbolic link",
    ),
    "empty symlink": Unsafe([member("empty", kind=SYM, linkname="")], "empty target"),
    "symlink replacing a folder": Unsafe(
        [member("d", kind=DIR), member("d", kind=SYM, linkname="x")], "replaces a folder"
    ),
    "folder through a symlink": Unsafe(
        [member("l", kind=SYM, linkname="."), member("l/d", kind=DIR)], "symbolic link"
    ),
    "hardlink to an absolute path": Unsafe(
        [member("h", kind=LNK, linkname="/etc/passwd")], "absolute path"
    ),
    "hardlink out": Unsafe([member("h", kind=LNK, linkname=_OUT)], "'..'"),
    "hardlink to a missing member": Unsafe(
        [member("h", kind=LNK, linkname="nothere")], "not a file of the archive"
    ),
    "hardlink to a folder": Unsafe(
        [member("d", kind=DIR), member("h", kind=LNK, linkname="d")], "not a file of the archive"
    ),
    "hardlink to the root": Unsafe([member("h", kind=LNK, linkname=".")], "target folder itself"),
    "hardlink through a symlink": Unsafe(
        [
            member("d/f", b"x"),
            member("l", kind=SYM, linkname="d"),
            member("h", kind=LNK, linkname="l/f"),
        ],
        "symbolic link",
    ),
    "character device": Unsafe([member("null", kind=tarfile.CHRTYPE)], "device file"),
    "block device": Unsafe([member("sda", kind=tarfile.BLKTYPE)], "device file"),
    "fifo": Unsafe([member("pipe", kind=tarfile.FIFOTYPE)], "FIFO"),
    "unknown type": Unsafe([member("odd", kind=b"V")], "unsupported member type"),
    "file replacing the root": Unsafe([member(".", b"x")], "target folder itself"),
    "file replacing a folder": Unsafe(
        [member("d/x", b"x"), member("d", b"x")], "replaces a folder"
    ),
}

_STATE = ".poncho-run"
_REASON = "state folder may hold only its state files"

#: Environment archives whose ``.poncho-run/`` would stop DIR's state being written or
#: published (issue 22): the member named is the first odd one.
STATE_FOLDER_MEMBERS: dict[str, Unsafe] = {
    "state.json as a folder": Unsafe(
        [
            member(_STATE, kind=DIR, mode=0o755),
            member(f"{_STATE}/state.json", kind=DIR, mode=0o755),
            member(f"{_STATE}/state.json/x", b"x"),
        ],
        f"'{_STATE}/state.json': poncho_package_run's {_REASON}",
    ),
    "empty state.json folder": Unsafe(
        [member(f"{_STATE}/state.json", kind=DIR, mode=0o755)],
        f"'{_STATE}/state.json': poncho_package_run's {_REASON}",
    ),
    "state.sh as a folder": Unsafe(
        [member(f"{_STATE}/state.sh", kind=DIR, mode=0o755)],
        f"'{_STATE}/state.sh': poncho_package_run's {_REASON}",
    ),
    "pending state as a folder": Unsafe(
        [member(f"{_STATE}/state.json.pending", kind=DIR, mode=0o755)],
        f"'{_STATE}/state.json.pending': poncho_package_run's {_REASON}",
    ),
    "state file as a link": Unsafe(
        [member(f"{_STATE}/state.json", kind=SYM, linkname="../bin")],
        f"'{_STATE}/state.json': poncho_package_run's {_REASON}",
    ),
    "state folder as a file": Unsafe(
        [member(_STATE, b"x")], f"'{_STATE}': poncho_package_run's {_REASON}"
    ),
    "state folder as a link": Unsafe(
        [member(_STATE, kind=SYM, linkname="bin")], f"'{_STATE}': poncho_package_run's {_REASON}"
    ),
}

#: The state folder of a DIR an archive was packed from: another place's state, dropped.
PACKED_STATE_MEMBERS: list[Member] = [
    member(_STATE, kind=DIR, mode=0o755),
    member(f"{_STATE}/state.json", b'{"state_version": 1, "prefix": "/elsewhere"}\n'),
    member(f"{_STATE}/state.sh", b"_poncho_state=1\n_poncho_prefix=/elsewhere\n"),
]


def make_indexed_tar(
    path: Path,
    groups: Sequence[Sequence[Member]],
    *,
    compression: str = "gzip",
    edit: Callable[[Any], Any] | None = None,
) -> Path:
    """Write an indexed tarball (poncho-core's layout, `poncho_core.tarindex`) to `path`: one
    compressed member per group of `groups`, then the index and the footer. The index agrees
    with the members (an entry of a kind it has no type for, a device, gets a ``file``
    record), unless `edit`, given the index (`TarIndex`), returns another, or the bytes of
    another document: an index that lies (the footer names the index written, wherever the
    members are)."""
    import hashlib

    from poncho_core.tarindex import IndexedFile
    from poncho_core.tarindex_write import Entry, IndexedTarWriter, record_of

    with path.open("wb") as handle:
        writer = IndexedTarWriter(handle, compression, 6)
        for number, group in enumerate(groups):
            entries = [
                Entry(info, data=data, sha256=hashlib.sha256(data or b"").hexdigest())
                if info.isreg()
                else Entry(info, data=data)
                for info, data in group
            ]
            records = []
            for entry in entries:
                try:
                    records.append(record_of(entry, number))
                except ValueError:  # a device, a FIFO: no type in the index
                    empty = hashlib.sha256(b"").hexdigest()
                    name = entry.info.name.removeprefix("./")
                    records.append(IndexedFile(name, "file", entry.info.mode, 0, empty, number))
            writer.add(f"m{number}", entries, records=records)
        writer.finish(1_600_000_000, edit=edit)
    return path


# Index edits for `make_indexed_tar`'s `edit`: an index that lies about one thing.


def edit_record(which: str, **changes: Any) -> Callable[[Any], Any]:
    """An edit giving the file record of path `which` the fields `changes`."""
    import dataclasses

    def edit(index: Any) -> Any:
        files = [dataclasses.replace(f, **changes) if f.path == which else f for f in index.files]
        return dataclasses.replace(index, files=tuple(files))

    return edit


def edit_member(number: int, **changes: Any) -> Callable[[Any], Any]:
    """An edit giving member number `number` the fields `changes`."""
    import dataclasses

    def edit(index: Any) -> Any:
        members = list(index.members)
        members[number] = dataclasses.replace(members[number], **changes)
        return dataclasses.replace(index, members=tuple(members))

    return edit


def drop_record(path: str) -> Callable[[Any], Any]:
    """An edit leaving out the file record of `path`."""
    import dataclasses

    def edit(index: Any) -> Any:
        return dataclasses.replace(index, files=tuple(f for f in index.files if f.path != path))

    return edit

"""The path rules of the one extractor, shared by `poncho_core.extract` (a tar stream, entry
by entry) and `poncho_core.extract_indexed` (an indexed tarball, its index's records first).

`PathRules` sees the entries in archive order and decides, without touching the disk, what
each one may become under the target folder: it refuses absolute paths, ``..``, paths too
deep or too long, paths through a symbolic link of the archive, links replacing folders,
hard links out of the folder, devices and FIFOs (the rules `poncho_core.extract`'s
docstring lists), and says which folder each entry needs made. Symbolic links are only
recorded: their targets are checked once all are known (`check_link_targets`), and the
caller creates them last. The caller does the writing (`poncho_core._writers`).
"""

from __future__ import annotations

from typing import NamedTuple

from poncho_core._tar import Member, TarError
from poncho_core.errors import UnsafeArchive, shown

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_PATH_DEPTH",
    "Action",
    "PathRules",
    "check_mtime",
    "kind_of",
    "refuse_kind",
    "relative",
]

#: Deeper paths are refused: folders are made (and later removed) by recursive functions,
#: and a real environment's deepest path has a few dozen components.
MAX_PATH_DEPTH = 256
#: Longer member names are refused: PATH_MAX is 4096, and the member lands under a folder.
MAX_NAME_BYTES = 4000
# Modification times os.utime can set in int64 nanoseconds (years 1677 to 2262).
_MAX_MTIME = 9.2e9
_MAX_LINK_HOPS = 40
#: The kinds of entries the extractor creates (the index's record types).
KINDS = ("file", "dir", "symlink", "hardlink")


class Action(NamedTuple):
    """What an entry becomes: `what` (``dir``, ``file``, ``symlink``, ``hardlink``), its
    normalised relative path `rel`, a link's `target` (a hard link's relative to the root),
    and `folder`, a folder to make first ("" when there is none to make)."""

    what: str
    rel: str
    target: str
    folder: str


def kind_of(member: Member) -> str:
    """The kind of a tar entry: one of `KINDS`, or what `refuse_kind` refuses."""
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "fifo"
    return f"type {member.type!r}"


def refuse_kind(name: str, kind: str) -> None:
    """Raise `UnsafeArchive` for an entry `name` of a kind the extractor does not create."""
    if kind in KINDS:
        return
    if kind == "device":
        raise UnsafeArchive(name, "device file")
    if kind == "fifo":
        raise UnsafeArchive(name, "FIFO (named pipe)")
    raise UnsafeArchive(name, f"unsupported member {kind}")


def check_mtime(member: Member) -> None:
    """Refuse a modification time no file system can hold (NaN too: os.utime cannot set it)."""
    if not -_MAX_MTIME < member.mtime < _MAX_MTIME:
        raise TarError(
            f"modification time of {shown(member.name)} out of range ({member.mtime:.6g})"
        )


def relative(name: str, member: str) -> str:
    """`name` as a normalised path relative to the root ("" for the root itself)."""
    if name.startswith("/"):
        raise UnsafeArchive(member, "absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts or ("\\" in name and ".." in name.replace("\\", "/").split("/")):
        raise UnsafeArchive(member, "path with '..'")
    if len(parts) > MAX_PATH_DEPTH:
        raise UnsafeArchive(member, f"path more than {MAX_PATH_DEPTH} folders deep")
    if len(name) > MAX_NAME_BYTES // 4 and len(name.encode("utf-8", "surrogateescape")) > (
        MAX_NAME_BYTES
    ):
        raise UnsafeArchive(member, f"path longer than {MAX_NAME_BYTES} bytes")
    return "/".join(parts)


class PathRules:
    """The folders made (`dirs`) and the symbolic links to create (`links`: path -> target),
    as the entries seen so far leave them."""

    def __init__(self) -> None:
        self.dirs: set[str] = {""}
        self.links: dict[str, str] = {}

    def entry(self, name: str, kind: str, linkname: str) -> Action:
        """Check the entry `name` of `kind` (`kind_of`'s) and record what it becomes."""
        rel = relative(name, name)
        if rel:
            self._no_link_in(rel, name)
        if kind == "dir":
            return Action("dir", rel, "", self._folder(rel, name) if rel else "")
        if not rel:
            raise UnsafeArchive(name, "replaces the target folder itself")
        if kind == "file":
            self.links.pop(rel, None)
            return Action("file", rel, "", self._parent(rel, name))
        if kind == "symlink":
            if linkname.startswith("/"):
                raise UnsafeArchive(name, f"symbolic link to an absolute path ({linkname})")
            if not linkname:
                raise UnsafeArchive(name, "symbolic link with an empty target")
            if rel in self.dirs:
                raise UnsafeArchive(name, "symbolic link replaces a folder")
            folder = self._parent(rel, name)
            self.links[rel] = linkname
            return Action("symlink", rel, linkname, folder)
        if kind == "hardlink":
            target = relative(linkname, name)
            if not target:
                raise UnsafeArchive(name, "hard link to the target folder itself")
            self._no_link_in(target, name)
            folder = self._parent(rel, name)
            if target in self.links:
                # A hard link to a symbolic link is a second symbolic link, same target.
                self.links[rel] = self.links[target]
                return Action("symlink", rel, self.links[rel], folder)
            self.links.pop(rel, None)
            return Action("hardlink", rel, target, folder)
        refuse_kind(name, kind)
        raise AssertionError(kind)  # pragma: no cover (refuse_kind raised)

    def check_link_targets(self) -> None:
        """Refuse a symbolic link that ends outside the root, following the others."""
        for rel, target in self.links.items():
            self._check_link_target(rel, target)

    def _no_link_in(self, rel: str, member: str) -> None:
        if not self.links:
            return
        end = rel.find("/")
        while end != -1:
            if rel[:end] in self.links:
                raise UnsafeArchive(member, f"path goes through the symbolic link {rel[:end]!r}")
            end = rel.find("/", end + 1)

    def _check_link_target(self, rel: str, target: str) -> None:
        """Follow `target` from `rel`'s folder through the archive's links; refuse escapes."""
        stack = rel.split("/")[:-1]
        todo = list(reversed(target.split("/")))
        hops = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not stack:
                    raise UnsafeArchive(rel, f"symbolic link points outside the folder ({target})")
                stack.pop()
                continue
            stack.append(part)
            key = "/".join(stack)
            if key in self.links:
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    return  # a loop of links stays inside; it resolves to nothing
                stack.pop()
                todo.extend(reversed(self.links[key].split("/")))

    def _parent(self, rel: str, member: str) -> str:
        parent = rel.rpartition("/")[0]
        return "" if parent in self.dirs else self._folder(parent, member)

    def _folder(self, rel: str, member: str) -> str:
        """`rel` if it is a folder to make (recorded as made, with its ancestors), else ""."""
        if rel in self.dirs:
            return ""
        if rel in self.links:
            raise UnsafeArchive(member, f"folder {rel!r} is a symbolic link of the archive")
        folder = rel
        while rel and rel not in self.dirs:
            self.dirs.add(rel)
            rel = rel.rpartition("/")[0]
        return folder

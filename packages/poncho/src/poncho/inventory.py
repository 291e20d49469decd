"""What an environment holds, read from a tarball, a lock, a spec or an unpacked folder.

`read_inventory` reads only what it needs, and unpacks nothing: a tarball with an index
answers from it and the one member holding ``poncho/``; any other is streamed once, keeping
only its small members (``poncho/spec.json``, ``poncho/lock.json``, ``conda-meta/*.json``;
see `poncho.tarball`). `poncho.compare` compares two inventories.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from poncho.sizes import PackageSize, is_record, package_sizes
from poncho.tarball import MemberSize, read_tarball
from poncho_core.errors import ArchiveError
from poncho_core.tarstream import looks_like_archive
from poncho_spec import PonchoError, Spec, loads_spec

__all__ = ["Inventory", "InventoryError", "Package", "read_inventory"]


class InventoryError(PonchoError, ValueError):
    """The path is none of the things an inventory is read from, or it cannot be read."""


@dataclass(frozen=True)
class Package:
    """One package: conda (with build and channel) or pip (with how it was found)."""

    name: str
    version: str
    kind: str  # "conda" or "pip"
    build: str = ""
    source: str = ""  # the channel (conda) or index|url|vcs|path|installed (pip)
    url: str = ""
    sha256: str | None = None
    commit: str | None = None  # a pip package's VCS commit

    def describe(self) -> str:
        """``version build`` (conda) or ``version`` (pip)."""
        return f"{self.version} {self.build}".strip()

    def origin(self) -> str:
        """Where a pip package came from (``git+URL@COMMIT``, a URL, a path or the source
        kind); a conda package's channel."""
        if self.source == "vcs" and self.commit:
            return f"{self.url}@{self.commit}"
        if self.source in ("url", "path") and self.url:
            return self.url
        return self.source

    def key(self) -> tuple[str, ...]:
        """What two packages of one name must share to be the same: version and build, and
        for pip where it came from (its source kind, commit, and file hash when both know
        one: the same name and version from git and from an index are not the same)."""
        if self.kind != "pip":
            return (self.version, self.build)
        return (self.version, self.build, _PIP_KINDS.get(self.source, self.source),
                self.commit or "")  # fmt: skip


@dataclass
class Inventory:
    """The contents of one environment, as far as the path tells them.

    `requested` holds a spec's dependencies as written when no lock says what was installed.
    `size` is the tarball's size, `unpacked_size` the sum of its (or the folder's) files,
    `package_sizes` those files by package, largest first (see `poncho.sizes`).
    A tarball is `indexed` or not (None for the other kinds); an indexed one lists its
    `members` (name, compressed and decompressed size).
    """

    path: str
    kind: str  # "tarball", "lock", "spec" or "folder"
    platform: str | None = None
    python: str | None = None
    spec_hash: str | None = None
    channels: list[str] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)
    size: int | None = None
    unpacked_size: int | None = None
    files: int | None = None
    package_sizes: list[PackageSize] = field(default_factory=list)
    indexed: bool | None = None
    members: list[MemberSize] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``poncho inspect --json`` prints)."""
        return asdict(self)


def read_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read what `path` holds: a tarball made by poncho or conda-pack, a ``lock.json``, a
    spec, or an unpacked environment folder. InventoryError names the path on failure."""
    target = Path(path)
    name = os.fspath(path)
    try:
        if target.is_dir():
            return _from_folder(target)
        if not target.exists():
            raise InventoryError(f"{name}: no such file or folder")
        if looks_like_archive(target):
            return _from_tarball(target)
        text = target.read_text(encoding="utf-8")
    except ArchiveError as exc:  # it names the path
        raise InventoryError(str(exc)) from exc
    except UnicodeDecodeError:
        raise InventoryError(
            f"{name}: not a tarball, a lock, a spec or an environment folder (not UTF-8 text)"
        ) from None
    except OSError as exc:
        raise InventoryError(f"{name}: cannot read it: {exc.strerror or exc}") from exc
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and "lock_version" in document:
        inventory = Inventory(name, "lock")
        _apply_lock(inventory, document)
        return inventory
    inventory = Inventory(name, "spec")
    try:
        _apply_spec(inventory, loads_spec(text, source=name), with_requests=True)
    except PonchoError as exc:
        raise InventoryError(
            f"{name}: not a tarball, a lock, a spec or an environment folder ({exc})"
        ) from exc
    return inventory


def _from_tarball(path: Path) -> Inventory:
    contents = read_tarball(path)
    inventory = Inventory(
        str(path),
        "tarball",
        size=path.stat().st_size,
        unpacked_size=contents.unpacked_size,
        files=contents.files,
        package_sizes=contents.package_sizes,
        indexed=contents.indexed,
        members=contents.members,
    )
    _apply(inventory, contents.spec_text, contents.lock_text, contents.metas)
    return inventory


def _from_folder(path: Path) -> Inventory:
    poncho = path / "poncho"
    if not (path / "conda-meta").is_dir() and not poncho.is_dir():
        raise InventoryError(f"{path}: a folder, but no conda environment (no conda-meta/)")
    inventory = Inventory(str(path), "folder")
    sizes: dict[str, int] = {}
    records: dict[str, str] = {}
    for folder, _dirs, names in os.walk(path):
        for file_name in names:
            full = Path(folder) / file_name
            if full.is_file() and not full.is_symlink():
                relative = full.relative_to(path).as_posix()
                sizes[relative] = full.stat().st_size
                if is_record(relative):
                    records[relative] = full.read_text(encoding="utf-8", errors="replace")
    metas = [
        meta
        for meta_file in sorted((path / "conda-meta").glob("*.json"))
        if isinstance(meta := _json_or_none(meta_file.read_text(encoding="utf-8")), dict)
    ]
    _apply_sizes(inventory, sizes, metas, records)
    spec_text = _text_or_none(poncho / "spec.json")
    lock_text = _text_or_none(poncho / "lock.json")
    _apply(inventory, spec_text, lock_text, metas)
    return inventory


def _apply_sizes(
    inventory: Inventory,
    sizes: Mapping[str, int],
    metas: Iterable[Mapping[str, Any]],
    records: Mapping[str, str],
) -> None:
    inventory.unpacked_size, inventory.files = sum(sizes.values()), len(sizes)
    inventory.package_sizes = package_sizes(sizes, metas, records)


def _apply(
    inventory: Inventory,
    spec_text: str | None,
    lock_text: str | None,
    metas: Iterable[Mapping[str, Any]],
) -> None:
    if spec_text is not None:
        try:
            spec = loads_spec(spec_text, source=f"{inventory.path}:poncho/spec.json")
        except PonchoError as exc:
            raise InventoryError(str(exc)) from exc
        _apply_spec(inventory, spec, with_requests=False)
    lock = _json_or_none(lock_text) if lock_text is not None else None
    if isinstance(lock, dict):
        _apply_lock(inventory, lock)
        return
    # A plain conda-pack tarball: conda-meta says what is installed (pip packages unseen).
    for meta in metas:
        inventory.packages.append(
            Package(
                name=str(meta.get("name", "")),
                version=str(meta.get("version", "")),
                kind="conda",
                build=str(meta.get("build", "")),
                source=str(meta.get("channel") or ""),
                url=str(meta.get("url") or ""),
                sha256=meta.get("sha256") or None,
            )
        )
    inventory.packages.sort(key=lambda p: (p.kind, p.name))
    inventory.python = inventory.python or _python_of(inventory.packages)
    if inventory.platform is None:
        inventory.platform = next(
            (str(m["subdir"]) for m in metas if m.get("subdir") not in (None, "noarch")), None
        )


def _apply_spec(inventory: Inventory, spec: Spec, *, with_requests: bool) -> None:
    inventory.spec_hash = spec.hash()
    inventory.channels = list(spec.conda.channels)
    inventory.data = {
        **{name: f"git {source.remote} @ {source.ref}" for name, source in spec.git.items()},
        **{name: f"http {source.url}" for name, source in spec.http.items()},
    }
    if with_requests:
        inventory.requested = [*spec.conda.dependencies, *(f"pip: {p}" for p in spec.pip)]


def _apply_lock(inventory: Inventory, lock: Mapping[str, Any]) -> None:
    inventory.platform = str(lock.get("platform") or "") or None
    inventory.spec_hash = inventory.spec_hash or (str(lock.get("spec_hash") or "") or None)
    inventory.channels = [str(c) for c in lock.get("channels") or []] or inventory.channels
    packages = []
    for kind in ("conda", "pip"):
        for item in lock.get(kind) or []:
            if not isinstance(item, Mapping):
                raise InventoryError(f"{inventory.path}: the lock's {kind} entries are not objects")
            packages.append(
                Package(
                    name=str(item.get("name", "")),
                    version=str(item.get("version", "")),
                    kind=kind,
                    build=str(item.get("build", "")),
                    source=str(item.get("channel") or item.get("source") or ""),
                    url=str(item.get("url") or ""),
                    sha256=item.get("sha256") or None,
                    commit=item.get("commit") or None,
                )
            )
    inventory.packages = sorted(packages, key=lambda p: (p.kind, p.name))
    inventory.python = _python_of(inventory.packages)


_PIP_KINDS = {"": "index"}
"""Pip sources that are the same kind (a lock without sources is an index's)."""


def _python_of(packages: Iterable[Package]) -> str | None:
    return next((p.version for p in packages if p.kind == "conda" and p.name == "python"), None)


def _json_or_none(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None

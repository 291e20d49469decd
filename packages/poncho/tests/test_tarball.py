"""`poncho inspect` and `poncho diff` on indexed tarballs: they answer from the index and
the member holding ``poncho/``, never decompressing the rest; any other tarball is streamed.

The indexed tarballs are a real environment (built by today's create, a single stream)
written again with poncho-core's `tarindex_write`, grouped as poncho-create groups it
(docs/dev/contracts.md): a member per conda package (its files and its conda-meta record),
one per pip distribution (the files of its RECORD), ``poncho`` and ``rest``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import posixpath
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import poncho.tarball
from poncho.cli import main
from poncho.inventory import InventoryError, read_inventory
from poncho.sizes import OTHER, is_record, member_owner
from poncho_core.tarindex import GZIP_FOOTER, INDEX_NAME, BadIndex, TarIndex, read_index
from poncho_core.tarindex_write import Entry, IndexedTarWriter

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "inspect.schema.json"
_CREATED = ("bin/run_in_env", "bin/conda-unpack", "bin/activate", "bin/deactivate")


@pytest.fixture(scope="module")
def env(local_channel: Any, wheelhouse: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real environment with a pip package, as today's create packs it (one stream), and
    the same files as an indexed tar.gz."""
    from poncho_create import create

    root = tmp_path_factory.mktemp("indexed")
    spec = {
        "conda": {"channels": [local_channel.url],
                  "dependencies": ["python", "poncho-demo-app", {"pip": ["poncho-demo-pipbase"]}]},
        "http": {"DATA": {"url": "http://127.0.0.1:1/d.txt"}},
    }  # fmt: skip
    created = create(spec, root / "created.tar.gz", cache_dir=root / "envs", no_index=True,
                     find_links=[str(wheelhouse.path)])  # fmt: skip
    stream = _single_stream(created, root / "stream.tar.gz")
    indexed = root / "indexed.tar.gz"
    _indexed_copy(stream, indexed, "gzip")
    return {"root": root, "stream": stream, "indexed": indexed}


def _single_stream(source: Path, target: Path) -> Path:
    """`source`'s entries but its index as one plain gzip stream (the tarballs create wrote
    before the indexed layout, and conda-pack's)."""
    with tarfile.open(source) as tar, tarfile.open(target, "w:gz") as out:
        for info in tar:
            if info.name != INDEX_NAME:
                out.addfile(info, tar.extractfile(info) if info.isreg() else None)
    return target


def _indexed_copy(
    source: Path,
    target: Path,
    compression: str,
    keep: Callable[[str], bool] = lambda _: True,
    edit: Callable[[TarIndex], TarIndex] | None = None,
) -> TarIndex:
    """`source`'s entries (those `keep` accepts) as an indexed tarball, grouped by package."""
    with tarfile.open(source) as tar:
        entries = {}
        for info in tar:
            name = info.name.removeprefix("./")
            if keep(name):
                data = tar.extractfile(info).read() if info.isreg() else None  # type: ignore[union-attr]
                entries[name] = Entry(info, data=data)
    owner: dict[str, str] = {}
    for name, entry in entries.items():
        if name.startswith("conda-meta/") and name.endswith(".json") and entry.data:
            meta = json.loads(entry.data)
            member = f"conda/{meta['name']}-{meta['version']}-{meta['build']}"
            owner[name] = member
            for path in meta.get("files", []):
                owner.setdefault(path, member)
    for name, entry in sorted(entries.items()):
        if is_record(name) and name not in owner and entry.data:
            dist = name.split("/")[-2].removesuffix(".dist-info")
            base = name.split("/site-packages/")[0] + "/site-packages"
            for row in csv.reader(entry.data.decode().splitlines()):
                path = posixpath.normpath(posixpath.join(base, row[0]))
                owner.setdefault(path, f"pip/{dist}")
    groups: dict[str, list[Entry]] = {}
    for name, entry in sorted(entries.items()):
        created = name.startswith("poncho/") or name in _CREATED
        groups.setdefault("poncho" if created else owner.get(name, "rest"), []).append(entry)
    with target.open("wb") as handle:
        writer = IndexedTarWriter(handle, compression, 1)
        for member in sorted(groups):
            writer.add(member, groups[member])
        return writer.finish(315532800, edit=edit)


def _streamed(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What inspect reads of `path` when it ignores the index (streaming it whole)."""
    with monkeypatch.context() as patch:
        patch.setattr(poncho.tarball, "read_index", lambda _path: None)
        return read_inventory(path)


def _without_layout(inventory: Any) -> dict[str, Any]:
    data = inventory.to_dict()
    del data["indexed"], data["members"]
    return data


def test_the_index_tells_what_the_stream_tells(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    indexed = read_inventory(env["indexed"])
    assert indexed.indexed is True
    streamed = _streamed(env["indexed"], monkeypatch)
    assert streamed.indexed is False and streamed.members == []
    # Every fact, sizes by package included, file for file: the same.
    assert _without_layout(indexed) == _without_layout(streamed)
    index = read_index(env["indexed"])
    assert index is not None
    assert [(m.name, m.size, m.usize) for m in indexed.members] == [
        (m.name, m.size, m.usize) for m in index.members
    ]
    rows = {(r.kind, r.name) for r in indexed.package_sizes}
    assert {("conda", "python"), ("conda", "poncho-demo-app"), ("", OTHER)} <= rows
    assert ("pip", "poncho-demo-pipbase") in rows and ("pip", "pip") not in rows
    # The tarball create wrote (one stream) holds the same packages.
    original = read_inventory(env["stream"])
    assert original.indexed is False and original.packages == indexed.packages
    assert original.spec_hash == indexed.spec_hash and original.data == indexed.data


def test_inspect_shows_the_layout(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    count = len(read_index(env["indexed"]).members)  # type: ignore[union-attr]
    assert main(["inspect", str(env["indexed"])]) == 0
    assert f"\n  layout     indexed, {count} members\n" in capsys.readouterr().out
    assert main(["inspect", str(env["stream"])]) == 0
    assert "\n  layout     one stream, no index\n" in capsys.readouterr().out
    assert main(["inspect", "--json", str(env["indexed"])]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(data)
    assert data["indexed"] is True and len(data["members"]) == count
    poncho = next(m for m in data["members"] if m["name"] == "poncho")
    assert poncho["size"] > 0 and poncho["usize"] > poncho["size"]


def test_a_member_inspect_needs_not_is_never_decompressed(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A byte of python's member damaged, nothing else changed: the stream is broken for
    every reader (tar, tarfile, ours), the index and the ``poncho`` member are intact, so
    inspect and diff answer as before: they did not read that member (its digest is
    checked whenever it is read)."""
    index = read_index(env["indexed"])
    assert index is not None
    python = next(m for m in index.members if m.name.startswith("conda/python-"))
    assert python.size > 100_000  # the bulk of the archive
    damaged = tmp_path / "damaged.tar.gz"
    data = bytearray(env["indexed"].read_bytes())
    data[python.offset + python.size // 2] ^= 0x55
    damaged.write_bytes(bytes(data))
    with pytest.raises(InventoryError, match=str(damaged)):
        _streamed(damaged, monkeypatch)
    if shutil.which("tar"):  # gzip checks the stream's CRC
        listing = subprocess.run(["tar", "tzf", str(damaged)], capture_output=True, check=False)
        assert listing.returncode != 0
    expected = read_inventory(env["indexed"]).to_dict()
    assert read_inventory(damaged).to_dict() == {**expected, "path": str(damaged)}
    assert main(["inspect", "--sizes", str(damaged)]) == 0
    assert main(["diff", str(damaged), str(env["stream"])]) == 0
    assert capsys.readouterr().out.endswith("the same packages\n")


def test_without_a_lock_conda_meta_is_read_from_the_members(
    env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An indexed tarball with no poncho/ (conda-pack's files only): what is installed is in
    conda-meta, in every conda member; those members are read, and checked."""
    plain = tmp_path / "plain.tar.gz"
    index = _indexed_copy(env["stream"], plain, "gzip", keep=lambda n: not n.startswith("poncho/"))
    inventory = read_inventory(plain)
    assert inventory.indexed and inventory.spec_hash is None
    assert _without_layout(inventory) == _without_layout(_streamed(plain, monkeypatch))
    assert {p.name for p in inventory.packages} >= {"python", "poncho-demo-app"}
    assert all(p.kind == "conda" for p in inventory.packages)
    python = next(m for m in index.members if m.name.startswith("conda/python-"))
    data = bytearray(plain.read_bytes())
    data[python.offset + python.size // 2] ^= 0x55
    plain.write_bytes(bytes(data))
    with pytest.raises(InventoryError, match=f"{plain}: member {python.name} does not match"):
        read_inventory(plain)


def test_a_zstd_indexed_tarball(env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("zstandard")
    path = tmp_path / "env.tar.zst"
    _indexed_copy(env["stream"], path, "zstd")
    inventory = read_inventory(path)
    assert inventory.indexed and inventory.members[0].name.startswith("conda/")
    assert _without_layout(inventory) == _without_layout(_streamed(path, monkeypatch))
    gzip = read_inventory(env["indexed"])
    assert inventory.packages == gzip.packages
    packages = [r for r in inventory.package_sizes if r.kind]  # OTHER holds each's index
    assert packages == [r for r in gzip.package_sizes if r.kind]


@pytest.mark.parametrize("damage", ["poncho member", "footer", "index"])
def test_an_index_that_lies_is_one_clean_line(
    env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    index = read_index(env["indexed"])
    assert index is not None
    path = tmp_path / "lying.tar.gz"
    data = bytearray(env["indexed"].read_bytes())
    if damage == "poncho member":  # the member inspect reads: its digest no longer holds
        member = next(m for m in index.members if m.name == "poncho")
        data[member.offset + member.size // 2] ^= 0x55
        message = "member poncho does not match its digest in the index"
    elif damage == "footer":  # the footer names bytes that are not the index
        digit = len(data) - GZIP_FOOTER + 12 + 4 + 15  # the offset's last hex digit
        data[digit] = ord("1") if data[digit] == ord("0") else ord("0")  # still a digit
        message = "the index footer names bytes"
    else:  # a member's size that is not its own
        _lying_index(env["stream"], path)
        data = bytearray(path.read_bytes())
        message = "is not where the index says"
    path.write_bytes(bytes(data))
    with pytest.raises(InventoryError, match=message) as caught:
        read_inventory(path)
    assert isinstance(caught.value.__cause__, BadIndex)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert err.startswith(f"poncho inspect: error: {path}: ") and "Traceback" not in err
    assert main(["diff", str(env["indexed"]), str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"poncho diff: error: {path}: ")
    assert main(["inspect", "--json", str(path)]) == 1
    assert message in json.loads(capsys.readouterr().out)["error"]["message"]


def _lying_index(source: Path, target: Path) -> None:
    """`source` again, with an index whose first member is one byte longer than it is."""

    def lie(index: TarIndex) -> TarIndex:
        members = list(index.members)
        members[0] = dataclasses.replace(members[0], size=members[0].size + 1)
        return dataclasses.replace(index, members=tuple(members))

    _indexed_copy(source, target, "gzip", edit=lie)


def test_member_names_say_whose_files_they_hold() -> None:
    assert member_owner("conda/python-3.12.1-h1_0") == ("conda", "python")
    assert member_owner("conda/ca-certificates-2024.2.2-hbcca054_0") == (
        "conda",
        "ca-certificates",
    )
    assert member_owner("pip/Poncho_Demo.pipbase-0.1.0") == ("pip", "poncho-demo-pipbase")
    assert member_owner("poncho") == member_owner("rest") == ("", OTHER)
    assert member_owner("conda/odd") == member_owner("pip/odd") == ("", OTHER)

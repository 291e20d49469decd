"""Indexed tarballs (issue 23): what create writes for .tar.gz and .tar.zst is read unchanged
by GNU tar, Python's tarfile and poncho-core's stream reader; its index describes the
extracted files exactly (one member per conda package and pip distribution); members are
copied from earlier tarballs when unchanged (never from a damaged one); the digest cache
spares hashing unchanged files."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from poncho_core.tarindex import INDEX_NAME, TarIndex, read_index
from poncho_core.tarstream import open_tar
from poncho_create import Lock, ProgressEvent
from poncho_create.engine_rattler import build_prefix
from poncho_create.pack import add_poncho_files, pack_prefix
from poncho_create.progress import Reporter


@pytest.fixture(scope="module")
def mini_prefix(
    mini_channel: Any, pkgs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    prefix = tmp_path_factory.mktemp("mini-indexed") / "env"
    build_prefix(["mini-tool"], [mini_channel.url], "linux-64", prefix, pkgs_dir, Reporter(None),
                 native=True)  # fmt: skip
    add_poncho_files(prefix, {"conda": {"dependencies": ["mini-tool"]}}, Lock("linux-64", "abc"))
    return prefix


def pack(prefix: Path, out: Path, **kw: Any) -> tuple[Path, dict[str, Any]]:
    """pack_prefix at level 3 with 2 threads; returns the tarball and its members note."""
    events: list[ProgressEvent] = []
    kw.setdefault("threads", 2)
    fmt = "tar.zst" if out.name.endswith(".zst") else "tar.gz"
    path = pack_prefix(prefix, out, fmt, level=3, report=Reporter(events.append), **kw)
    notes = [e.detail for e in events if e.phase == "members" and e.detail is not None]
    return path, dict(notes[-1])


def indexed(tarball: Path) -> TarIndex:
    index = read_index(tarball)
    assert index is not None, f"{tarball} has no index"
    return index


def extract(tarball: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    flag = "--zstd" if tarball.name.endswith(".zst") else "-z"
    subprocess.run(["tar", flag, "-xf", str(tarball), "-C", str(dest)], check=True)
    return dest


def tree(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every path under `root`: (kind, content or link target)."""
    out: dict[str, tuple[str, bytes]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("symlink", str(path.readlink()).encode())
        elif path.is_dir():
            out[rel] = ("dir", b"")
        else:
            out[rel] = ("file", path.read_bytes())
    return out


def check_index(tarball: Path, folder: Path) -> TarIndex:
    """The index against the archive's entries and the files `folder` holds (extracted)."""
    index = indexed(tarball)
    with open_tar(tarball) as reader:
        names = [entry.name.removeprefix("./") for entry in reader]
    paths = [f.path for f in index.files]
    assert names == [*paths, INDEX_NAME]  # the members' files: the archive, in order
    assert len(set(paths)) == len(paths)
    assert {f.member for f in index.files} == set(range(len(index.members)))
    for record in index.files:
        path = folder / record.path
        if record.type == "file":
            data = path.read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (record.size, record.sha256)
            assert path.stat().st_mode & 0o7777 == record.mode
        elif record.type == "symlink":
            assert str(path.readlink()) == record.link
        else:
            assert record.type == "dir" and path.is_dir()
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*")}
    folders = {str(parent) for p in paths for parent in Path(p).parents} - {"."}
    assert on_disk - {INDEX_NAME} - set(paths) <= folders  # and the folders tar made for them
    return index


def member_of(index: TarIndex) -> dict[str, str]:
    return {f.path: index.members[f.member].name for f in index.files}


# --- the demo environment: readers and the index ------------------------------------------


def test_create_writes_an_indexed_tarball_that_describes_its_files(
    demo_build: Any, tmp_path: Path
) -> None:
    folder = extract(demo_build.tarball, tmp_path / "x")
    index = check_index(demo_build.tarball, folder)
    where = member_of(index)
    names = [m.name for m in index.members]
    assert names == sorted(names) and len(set(names)) == len(names)
    # One member per conda package: the files its conda-meta lists, and that json.
    metas = sorted((folder / "conda-meta").glob("*.json"))
    assert metas
    for meta_file in metas:
        meta = json.loads(meta_file.read_text())
        member = f"conda/{meta['name']}-{meta['version']}-{meta['build']}"
        assert where[f"conda-meta/{meta_file.name}"] == member
        assert {where[f] for f in meta["files"] if f in where} == {member}
    assert "poncho" in names
    # The pip distributions: their RECORD's files.
    piptop = [n for n in names if n.startswith("pip/poncho-demo-piptop-")]
    local = [n for n in names if n.startswith("pip/poncho-create-localproj-")]
    assert len(piptop) == 1 and len(local) == 1
    assert (
        where["lib/python" + _pyver(folder) + "/site-packages/poncho_demo_piptop/__init__.py"]
        == (piptop[0])
    )
    for path in ("poncho/spec.json", "poncho/lock.json", "bin/run_in_env", "bin/conda-unpack"):
        assert where[path] == "poncho"
    # Prefix flags: the files conda-unpack rewrites (and the bin/python* ones conda-pack
    # leaves as they are), each holding its placeholder: conda-pack lists every text file
    # pip installed, and those without the prefix are left out.
    script = (folder / "bin" / "conda-unpack").read_text()
    records = dict(re.findall(r"^\('([^']+)', '([^']+)'", script, re.M))
    flagged = {f.path for f in index.files if f.prefix}
    assert records and set(records) <= flagged
    assert all(p.startswith("bin/python") for p in flagged - set(records))
    assert all(f.type == "file" for f in index.files if f.prefix)
    for path, placeholder in records.items():
        assert placeholder.encode() in (folder / path).read_bytes(), path
    unlisted = [f.path for f in index.files if f.path.endswith(".dist-info/METADATA")]
    assert unlisted and not set(unlisted) & flagged


def _pyver(folder: Path) -> str:
    return next(folder.glob("lib/python3.*")).name.removeprefix("python")


def test_every_reader_reads_the_indexed_tarball(demo_build: Any, tmp_path: Path) -> None:
    tarball = demo_build.tarball
    by_tar = tree(extract(tarball, tmp_path / "tar"))
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(tmp_path / "tarfile", filter="tar")
    assert tree(tmp_path / "tarfile") == by_tar
    with open_tar(tarball) as reader:
        names = [entry.name.removeprefix("./") for entry in reader]
    index = indexed(tarball)
    assert names == [*(f.path for f in index.files), INDEX_NAME]


def test_a_zstd_tarball_is_indexed_and_read_by_tar(
    demo_build: Any, tmp_path: Path, helpers: Any
) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program to test `tar --zstd` with")
    out = pack(demo_build.build_prefix, tmp_path / "env.tar.zst")[0]
    assert indexed(out).compression == "zstd"
    folder = extract(out, tmp_path / "x")
    check_index(out, folder)
    with open_tar(out) as reader:
        assert sum(1 for _ in reader) == len(indexed(out).files) + 1
    gz = tree(helpers.unpack(demo_build.tarball, tmp_path / "gz"))
    assert {**tree(folder), INDEX_NAME: None} == {**gz, INDEX_NAME: None}


def test_the_same_bytes_with_one_or_two_threads(demo_build: Any, tmp_path: Path) -> None:
    one = pack(demo_build.build_prefix, tmp_path / "1.tar.gz", threads=1)[0]
    two = pack(demo_build.build_prefix, tmp_path / "2.tar.gz", threads=2)[0]
    assert one.read_bytes() == two.read_bytes()


# --- reuse and the digest cache ------------------------------------------------------------


def test_members_are_copied_from_an_earlier_tarball(mini_prefix: Path, tmp_path: Path) -> None:
    first, note = pack(mini_prefix, tmp_path / "a" / "env.tar.gz")
    assert note["reused"] == 0 and note["total"] == len(indexed(first).members)
    again, note = pack(mini_prefix, tmp_path / "b" / "env.tar.gz", reuse_from=[first])
    assert note == {"total": note["total"], "reused": note["total"]}
    assert again.read_bytes() == first.read_bytes()


def test_a_damaged_earlier_tarball_is_not_copied_from(
    mini_prefix: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good, _ = pack(mini_prefix, tmp_path / "good.tar.gz")
    index = indexed(good)
    victim = next(m for m in index.members if m.name.startswith("conda/"))
    data = bytearray(good.read_bytes())
    data[victim.offset + victim.size // 2] ^= 0xFF  # one byte flipped inside the member
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        out, note = pack(mini_prefix, tmp_path / "out" / "env.tar.gz", reuse_from=[damaged])
    assert note["reused"] == note["total"] - 1  # all but the damaged one
    assert out.read_bytes() == good.read_bytes()
    assert f"member {victim.name} does not match its digest" in caplog.text


def test_a_cache_of_tarballs_of_another_format_or_level_is_not_used(
    mini_prefix: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "envs"
    cache.mkdir()
    pack(mini_prefix, cache / "old.tar.zst")
    _, note = pack(mini_prefix, tmp_path / "env.tar.gz", cache_dir=cache)
    assert note["reused"] == 0
    shutil.copy(tmp_path / "env.tar.gz", cache / "old.tar.gz")
    events: list[ProgressEvent] = []
    pack_prefix(mini_prefix, tmp_path / "l9.tar.gz", "tar.gz", level=9, threads=1,
                report=Reporter(events.append), cache_dir=cache)  # fmt: skip
    assert [e.detail for e in events if e.detail] == [{"total": note["total"], "reused": 0}]
    _, note = pack(mini_prefix, tmp_path / "again.tar.gz", cache_dir=cache)
    assert note["reused"] == note["total"]


def test_the_digest_cache_spares_hashing_unchanged_files(
    mini_prefix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poncho_create.digest_cache as digest_cache
    import poncho_create.pack_entries as pack_entries

    monkeypatch.setattr(digest_cache, "RACY_NS", -(10**18))  # files just written count too
    hashed: list[str] = []
    real = pack_entries.file_sha256

    def counting(path: str) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(pack_entries, "file_sha256", counting)
    cache = tmp_path / "envs"
    extra = tmp_path / "extra.txt"  # packed by path, as conda packages' files are
    extra.write_text("one\n")
    files = {"share/extra.txt": extra}
    first, _ = pack(mini_prefix, tmp_path / "1.tar.gz", cache_dir=cache, extra_files=files)
    assert str(extra) in hashed and len(list((cache / ".digests").glob("*.json"))) == 1
    hashed.clear()
    second, _ = pack(mini_prefix, tmp_path / "2.tar.gz", cache_dir=cache, extra_files=files)
    assert hashed == [] and second.read_bytes() == first.read_bytes()
    extra.write_text("two!\n")
    third, _ = pack(mini_prefix, tmp_path / "3.tar.gz", cache_dir=cache, extra_files=files)
    assert hashed == [str(extra)]
    with tarfile.open(third) as tar:
        assert tar.extractfile("share/extra.txt").read() == b"two!\n"  # type: ignore[union-attr]


def test_a_damaged_digest_cache_is_ignored(mini_prefix: Path, tmp_path: Path) -> None:
    cache = tmp_path / "envs"
    first, _ = pack(mini_prefix, tmp_path / "1.tar.gz", cache_dir=cache)
    for path in (cache / ".digests").glob("*.json"):
        path.write_text("{not json")
    second, _ = pack(mini_prefix, tmp_path / "2.tar.gz", cache_dir=cache)
    assert second.read_bytes() == first.read_bytes()


def test_a_file_changed_while_packing_is_a_pack_error(
    mini_channel: Any, pkgs_dir: Path, tmp_path: Path
) -> None:
    from poncho_create import PackError

    prefix = tmp_path / "env"
    build_prefix(["mini-tool"], [mini_channel.url], "linux-64", prefix, pkgs_dir, Reporter(None),
                 native=True)  # fmt: skip
    extra = prefix / "share" / "extra.txt"
    extra.write_text("one")

    out = tmp_path / "env.tar.gz"
    import poncho_create.pack_indexed as pack_indexed

    real = pack_indexed.write_members

    def changing(*args: Any, **kw: Any) -> Any:  # after the digests, before compressing
        extra.write_text("two")
        return real(*args, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pack_indexed, "write_members", changing)
        with pytest.raises(PackError, match=r"packing failed: .*extra\.txt"):
            pack_prefix(prefix, out, "tar.gz", level=1, threads=2, report=Reporter(None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env"]


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.zst"])
def test_indexed_is_within_3_percent_of_one_stream(
    demo_build: Any, tmp_path: Path, fmt: str
) -> None:
    """Issue 23: members compressed alone cost little (demo env, default levels: measured
    +0.8% for gzip, +1.4% for zstd)."""
    from conda_pack.core import CondaEnv

    from poncho_core.fs import atomic_output
    from poncho_create.option_table import LEVELS
    from poncho_create.pack import _size, _with_extras
    from poncho_create.pack_stream import write_stream

    level = LEVELS[fmt][2]
    prefix = demo_build.build_prefix
    indexed_size = pack_prefix(prefix, tmp_path / f"i.{fmt}", fmt, level=level, threads=2,
                               report=Reporter(None)).stat().st_size  # fmt: skip
    files = _with_extras(CondaEnv.from_prefix(str(prefix)).files, {}, ())
    sizes = [_size(f.source) for f in files]
    with atomic_output(tmp_path / f"s.{fmt}") as (handle, _):
        write_stream(handle, str(prefix), files, fmt, level=level, threads=2, mtime=315532800,
                     report=Reporter(None), total=sum(sizes), sizes=sizes)  # fmt: skip
    single = (tmp_path / f"s.{fmt}").stat().st_size
    assert indexed_size <= single * 1.03, (indexed_size, single)

"""The same spec gives the same bytes (issue 26 item 5, seam 16): two full builds of the demo
spec, the second one with --force (its conda layer installed afresh) and its own (empty)
package cache, give
byte-identical tarballs, whose members have normalised mtimes, owners and order, and whose
.pyc files stay valid (Python does not compile again, even in a read-only folder)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from poncho_core.tarindex import INDEX_NAME, read_index
from poncho_create import create


def _build(demo_build: Any, root: Path, cache: Path, **more: Any) -> Path:
    options = dict(demo_build.options)
    # Its own (empty) package cache; the same env cache, whose conda layer is the build
    # prefix (its path is written into the environment).
    options.update(cache_dir=cache, pkgs_dir=root / "pkgs", **more)
    return create(demo_build.spec_path, **options)


@pytest.fixture(scope="module")
def builds(demo_build: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cache = tmp_path_factory.mktemp("envs")
    first = _build(demo_build, tmp_path_factory.mktemp("first"), cache)
    kept = Path(shutil.copy(first, tmp_path_factory.mktemp("kept") / first.name))
    # --force: the conda layer installed afresh, from another empty package cache.
    return kept, _build(demo_build, tmp_path_factory.mktemp("second"), cache, force=True)


def test_without_layers_two_env_caches_give_the_same_bytes(
    demo_build: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PONCHO_CREATE_LAYERS=0: the build prefix is named after the spec in the temporary
    folder, whatever the env cache."""
    monkeypatch.setenv("PONCHO_CREATE_LAYERS", "0")
    one = _build(demo_build, tmp_path / "a", tmp_path / "a" / "envs")
    two = _build(demo_build, tmp_path / "b", tmp_path / "b" / "envs")
    assert one.read_bytes() == two.read_bytes()
    assert not (tmp_path / "a" / "envs" / "layers").exists()


@pytest.fixture(scope="module")
def rebuilt(builds: tuple[Path, Path]) -> Path:
    return builds[1]


def test_two_builds_of_the_same_spec_are_byte_identical(builds: tuple[Path, Path]) -> None:
    first, second = builds
    assert first != second
    assert first.read_bytes() == second.read_bytes()


def test_members_are_normalised(rebuilt: Path) -> None:
    header = rebuilt.read_bytes()[:10]
    assert header[3] & 0x08 == 0  # FNAME: no file name in the gzip header
    assert header[4:8] == b"\0\0\0\0"  # MTIME 0
    with tarfile.open(rebuilt) as tar:
        members = tar.getmembers()
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert len({m.mtime for m in members}) == 1
    names = [m.name for m in members]
    # Indexed: members sorted by name, entries sorted by path inside each, the index last.
    index = read_index(rebuilt)
    assert index is not None
    assert [m.name for m in index.members] == sorted(m.name for m in index.members)
    assert names == [f.path for f in index.files] + [INDEX_NAME]
    for number in range(len(index.members)):
        paths = [f.path for f in index.member_files(number)]
        assert paths == sorted(paths)
    assert {f.path for f in index.files if index.members[f.member].name == "poncho"} >= {
        "bin/activate", "bin/deactivate", "bin/activate.fish", "bin/conda_unpack_progress.py",
        "bin/conda-unpack", "bin/run_in_env", "poncho/spec.json", "poncho/lock.json",
    }  # fmt: skip


def test_two_builds_have_the_same_index_digests(builds: tuple[Path, Path]) -> None:
    first, second = (read_index(b) for b in builds)
    assert first is not None and second is not None
    assert first.members == second.members and first.files == second.files


def test_pyc_files_stay_valid_where_unpacked(
    rebuilt: Path, tmp_path: Path, helpers: SimpleNamespace
) -> None:
    folder = helpers.unpack(rebuilt, tmp_path / "u")
    subprocess.run([str(folder / "bin" / "run_in_env")], check=True)
    pycs = sorted(folder.glob("lib/python*/site-packages/**/*.pyc"))
    assert pycs, "the demo environment has compiled files"
    before = {p: p.read_bytes() for p in pycs}
    # An import that found a .pyc stale would write it again.
    code = "import poncho_demo_app, poncho_demo_core, poncho_demo_piptop, pip._internal.cli.main"
    result = subprocess.run(
        [str(folder / "bin" / "run_in_env"), "python", "-c", code],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {p: p.read_bytes() for p in pycs} == before
    # Every timestamp-checked .pyc names the mtime and size its source now has.
    checked = 0
    for pyc in pycs:
        data = before[pyc]
        if int.from_bytes(data[4:8], "little") != 0:
            continue  # hash-based
        source = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
        if not source.is_file():
            continue
        st = os.stat(source)
        assert int.from_bytes(data[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF, pyc
        assert int.from_bytes(data[12:16], "little") == st.st_size & 0xFFFFFFFF, pyc
        checked += 1
    assert checked


def test_gzip_header_of_a_single_threaded_build(demo_build: Any, tmp_path: Path) -> None:
    out = create(demo_build.spec_path, tmp_path / "one.tar.gz", threads=1, **{
        k: v for k, v in demo_build.options.items() if k != "threads"
    })  # fmt: skip
    with gzip.open(out) as stream:
        stream.read(1)
        assert stream.name == str(out)  # readable
    header = out.read_bytes()[:10]
    assert header[3] & 0x08 == 0 and header[4:8] == b"\0\0\0\0"

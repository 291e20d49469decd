"""OUTPUT: what create may overwrite, and the copy of a cached tarball (real files)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from poncho_create import OutputExists
from poncho_create.output_file import check_overwrite, copy_tarball, is_env_tarball


def _tarball(path: Path, names: list[str], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return path


def _zst(path: Path, names: list[str]) -> Path:
    import zstandard

    plain = _tarball(path.with_suffix(".plain"), names, "w")
    path.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    return path


def test_what_may_be_overwritten(tmp_path: Path) -> None:
    check_overwrite(tmp_path / "missing.tar.gz", force=False)
    (tmp_path / "empty.tar.gz").touch()  # Parsl's fresh .tmpXXXX.tar.gz
    check_overwrite(tmp_path / "empty.tar.gz", force=False)
    env = _tarball(tmp_path / "env.tar.gz", ["bin/tool", "conda-meta/x-1-0.json"])
    check_overwrite(env, force=False)
    ours = _tarball(tmp_path / "ours.tar.bz2", ["bin/run_in_env", "poncho/spec.json"], "w:bz2")
    check_overwrite(ours, force=False)
    check_overwrite(_zst(tmp_path / "env.tar.zst", ["conda-meta/history"]), force=False)
    check_overwrite(Path(os.devnull), force=False)


@pytest.mark.parametrize("kind", ["text", "data-tarball", "zst-data"])
def test_anything_else_is_refused_unless_forced(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.tar.gz"
    if kind == "text":
        path.write_text("print('my script')\n")
    elif kind == "data-tarball":
        _tarball(path, ["results/run1.csv"])
    else:
        _zst(path, ["results/run1.csv"])
    before = path.read_bytes()
    with pytest.raises(
        OutputExists, match=r"^OUTPUT .*x\.tar\.gz: exists and is not an env"
    ) as exc:
        check_overwrite(path, force=False)
    assert exc.value.exit_status == 2 and "\n" not in str(exc.value)
    assert path.read_bytes() == before
    check_overwrite(path, force=True)
    assert not is_env_tarball(path)


def test_a_copy_not_a_link(tmp_path: Path) -> None:
    source = tmp_path / "cache" / "e.tar.gz"
    source.parent.mkdir()
    source.write_bytes(os.urandom(3 << 20))
    out = tmp_path / "out" / "env.tar.gz"
    out.parent.mkdir()
    out.write_bytes(b"old")
    assert copy_tarball(source, out) == out
    assert out.read_bytes() == source.read_bytes()
    assert out.stat().st_ino != source.stat().st_ino and source.stat().st_nlink == 1
    with out.open("r+b") as handle:  # users may modify OUTPUT: the cache entry stays
        handle.write(b"changed")
    assert source.read_bytes()[:7] != b"changed"
    assert sorted(p.name for p in out.parent.iterdir()) == ["env.tar.gz"]  # no temp left
    assert copy_tarball(source, Path(os.devnull)) == Path(os.devnull)


def test_a_large_tarball_is_judged_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the start of a tarball is read (conda-pack sorts: conda-meta/ comes early), so a
    large data tarball is refused in seconds, not after reading all of it."""
    from poncho_create import output_file

    monkeypatch.setattr(output_file, "_BYTES", 4096)
    path = tmp_path / "data.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        big = tarfile.TarInfo("data/big.bin")
        big.size = 64 << 10
        tar.addfile(big, io.BytesIO(os.urandom(big.size)))
        for name in ("data/more.bin", "conda-meta/late.json"):
            late = tarfile.TarInfo(name)
            tar.addfile(late, io.BytesIO(b""))
    assert not is_env_tarball(path)
    monkeypatch.setattr(output_file, "_BYTES", 1 << 30)
    assert is_env_tarball(path)

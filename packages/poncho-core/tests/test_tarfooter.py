"""The footer alone (poncho_core.tarfooter): `has_footer` tells an indexed tarball from any
other file by its last bytes, without importing the index's reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from poncho_core.tarfooter import GZIP_FOOTER, footer, has_footer, parse_footer
from poncho_testing.tars import make_indexed_tar, make_tar, member


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_an_indexed_tarball_has_a_footer(tmp_path: Path, compression: str) -> None:
    if compression == "zstd":
        pytest.importorskip("zstandard")
    path = make_indexed_tar(tmp_path / "env.tar", [[member("a", b"x")]], compression=compression)
    assert has_footer(path)


def test_other_files_have_none(tmp_path: Path) -> None:
    plain = make_tar(tmp_path / "plain.tar.gz", [member("a", b"x")])
    assert not has_footer(plain)
    assert not has_footer(make_tar(tmp_path / "plain.tar", [member("a", b"x")], mode="w"))
    (tmp_path / "empty").write_bytes(b"")
    assert not has_footer(tmp_path / "empty")
    (tmp_path / "short.gz").write_bytes(b"\x1f\x8b\x08\x04")
    assert not has_footer(tmp_path / "short.gz")
    damaged = bytearray(make_indexed_tar(tmp_path / "d.tar.gz", [[member("a", b"x")]]).read_bytes())
    damaged[-12] ^= 1  # the magic
    (tmp_path / "d.tar.gz").write_bytes(bytes(damaged))
    assert not has_footer(tmp_path / "d.tar.gz")
    with pytest.raises(OSError):
        has_footer(tmp_path / "missing")


def test_a_footer_reads_back_and_stays_out_of_tarindex_imports() -> None:
    assert parse_footer("gzip", b"junk" + footer("gzip", 12, 34)) == (12, 34)
    assert len(footer("gzip", 0, 0)) == GZIP_FOOTER
    assert parse_footer("xz", footer("gzip", 1, 2)) is None
    code = (
        "import sys, poncho_core.tarfooter; "
        "print('dataclasses' in sys.modules, 'json' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

"""Hand-written .conda files read back with py-rattler's own readers."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from rattler.package import IndexJson, PathsJson

from poncho_testing._conda_package import PackageFile, PackageMeta, write_conda_package


def test_package_round_trips(tmp_path: Path) -> None:
    source = tmp_path / "tool"
    source.write_bytes(b"#!/bin/sh\necho /build/prefix\n")
    source.chmod(0o755)
    meta = PackageMeta("demo", "1.2", "h1_x", 1, "linux-64", depends=("python >=3.10",))
    files = [
        PackageFile("bin/tool", source=source, prefix_placeholder="/build/prefix"),
        PackageFile("bin/tool-link", link_target="tool"),
        PackageFile("share/data.txt", data=b"data"),
    ]
    pkg = write_conda_package(meta, files, tmp_path / "out", timestamp=1_700_000_000)
    assert pkg.name == "demo-1.2-h1_x.conda"
    with zipfile.ZipFile(pkg) as zf:
        assert json.loads(zf.read("metadata.json")) == {"conda_pkg_format_version": 2}
        assert sorted(zf.namelist()) == [
            "info-demo-1.2-h1_x.tar.zst",
            "metadata.json",
            "pkg-demo-1.2-h1_x.tar.zst",
        ]
    index = IndexJson.from_package_archive(pkg)
    assert (index.name.normalized, str(index.version), str(index.build)) == ("demo", "1.2", "h1_x")
    assert index.depends == ["python >=3.10"] and index.subdir == "linux-64"
    assert index.timestamp is not None
    paths = {str(p.relative_path): p for p in PathsJson.from_package_archive(pkg).paths}
    assert set(paths) == {"bin/tool", "bin/tool-link", "share/data.txt"}
    assert paths["bin/tool"].prefix_placeholder is not None
    assert paths["bin/tool"].prefix_placeholder.placeholder == "/build/prefix"
    assert paths["share/data.txt"].prefix_placeholder is None
    assert paths["share/data.txt"].size_in_bytes == 4
    assert paths["bin/tool-link"].path_type.softlink
    assert not list((tmp_path / "out").glob(".*"))


def test_noarch_package_has_link_json(tmp_path: Path) -> None:
    import io
    import tarfile

    import zstandard

    meta = PackageMeta(
        "na", "1", "py_0", 0, "noarch", noarch_python=True, entry_points=("na = na:main",)
    )
    pkg = write_conda_package(meta, [PackageFile("site-packages/na.py", data=b"")], tmp_path)
    with zipfile.ZipFile(pkg) as zf:
        raw = (
            zstandard.ZstdDecompressor()
            .decompressobj()
            .decompress(zf.read("info-na-1-py_0.tar.zst"))
        )
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        link = json.load(tar.extractfile("info/link.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("info/index.json"))  # type: ignore[arg-type]
    assert link["noarch"] == {"type": "python", "entry_points": ["na = na:main"]}
    assert index["noarch"] == "python" and "platform" not in index

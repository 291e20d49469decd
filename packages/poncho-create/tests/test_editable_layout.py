"""The pieces of editable packing that need no environment: reading the pointers an
editable install leaves, laying out a wheel, the scripts and RECORD of the copy."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from poncho_create.editable import (
    EditableInstall,
    EditablePackages,
    easy_install_pth,
    from_dist_info,
    from_egg_link,
    orphan_editable_files,
)
from poncho_create.editable_copy import packed_copy
from poncho_create.editable_wheel import lay_out_wheel
from poncho_create.progress import Reporter

SITE = "lib/python3.13/site-packages"


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_wheel_is_laid_out_as_pip_installs_it(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "kept").write_text("#!/env/bin/python\n")
    wheel = _wheel(tmp_path / "p-1.0-py3-none-any.whl", {
        "p/__init__.py": b"X = 1\n",
        "p-1.0.dist-info/METADATA": b"Name: p\nVersion: 1.0\n",
        "p-1.0.dist-info/RECORD": b"stale\n",
        "p-1.0.data/scripts/tool": b"#!python\nprint(1)\n",
        "p-1.0.data/scripts/kept": b"#!python\n",
        "p-1.0.data/data/share/p/x.txt": b"x\n",
        "p-1.0.data/headers/p.h": b"int p;\n",
        "p-1.0.data/platlib/p_ext.py": b"",
        "p-1.0.data/odd/thing": b"",
    })  # fmt: skip
    dest = tmp_path / "tree"
    assert lay_out_wheel(wheel, dest, SITE, prefix) == f"{SITE}/p-1.0.dist-info"
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [
        "bin/tool", "include/python3.13/p/p.h", f"{SITE}/p-1.0.dist-info/METADATA",
        f"{SITE}/p/__init__.py", f"{SITE}/p_ext.py", "share/p/x.txt",
    ]  # fmt: skip
    assert (dest / "bin/tool").read_text().startswith("#!/usr/bin/env python\n")
    assert (dest / "bin/tool").stat().st_mode & 0o111


@pytest.mark.parametrize("name", ["../evil.py", "/abs.py"])
def test_a_wheel_member_leaving_the_tree_is_refused(tmp_path: Path, name: str) -> None:
    wheel = _wheel(tmp_path / "w.whl", {name: b"", "p-1.dist-info/METADATA": b""})
    with pytest.raises(EditablePackages, match="unsafe member name"):
        lay_out_wheel(wheel, tmp_path / "tree", SITE, tmp_path)
    with pytest.raises(EditablePackages, match=r"no \.dist-info"):
        lay_out_wheel(_wheel(tmp_path / "x.whl", {"a.py": b""}), tmp_path / "t", SITE, tmp_path)


def _dist_info(prefix: Path, pth: str, *extra: str) -> Path:
    site = prefix / SITE
    dist = site / "q-2.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Name: q\nVersion: 2.0\n")
    (dist / "INSTALLER").write_text("uv\n")
    (dist / "entry_points.txt").write_text("[console_scripts]\nq-new = q.cli:run\nbad = q\n")
    (site / "__editable__.q-2.0.pth").write_text(pth)
    for name in extra:
        (site / name).write_text("")
    return dist


def test_a_setuptools_finder_is_read_without_importing_it(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "q").mkdir(parents=True)
    (source / "q" / "__init__.py").write_text("V = 'q'\n")
    (source / "q" / "cli.py").write_text("def run():\n    return 0\n")
    (source / "q" / "__pycache__").mkdir()
    (source / "q" / "__pycache__" / "x.pyc").write_bytes(b"")
    prefix = tmp_path / "env"
    dist = _dist_info(prefix, "import __editable___q_finder; __editable___q_finder.install()\n")
    finder = prefix / SITE / "__editable___q_finder.py"
    finder.write_text(
        f"import sys\nMAPPING: dict[str, str] = {{'q': {str(source / 'q')!r}}}\n"
        "raise SystemExit('never imported')\n"
    )
    (prefix / SITE / "__pycache__").mkdir()
    (prefix / SITE / "__pycache__" / "__editable___q_finder.cpython-313.pyc").write_bytes(b"")
    files = [f"{SITE}/__editable__.q-2.0.pth", f"{SITE}/__editable___q_finder.py"]
    install = from_dist_info(prefix, "q", "2.0", dist, files, source.as_uri())
    assert install.mapping == {"q": source / "q"}
    assert f"{SITE}/__pycache__/__editable___q_finder.cpython-313.pyc" in install.env_files
    assert f"{SITE}/q-2.0.dist-info/METADATA" in install.env_files
    assert install.installer == "uv" and not install.requested

    # No pip in this "environment": the folders the finder maps are copied.
    copy = packed_copy(prefix, install, tmp_path / "work", Reporter(None))
    assert not copy.from_wheel and (copy.name, copy.version) == ("q", "2.0")
    assert sorted(copy.files) == [
        "bin/q-new", f"{SITE}/q-2.0.dist-info/INSTALLER", f"{SITE}/q-2.0.dist-info/METADATA",
        f"{SITE}/q-2.0.dist-info/RECORD", f"{SITE}/q-2.0.dist-info/direct_url.json",
        f"{SITE}/q-2.0.dist-info/entry_points.txt", f"{SITE}/q/__init__.py", f"{SITE}/q/cli.py",
    ]  # fmt: skip
    wrapper = copy.files["bin/q-new"].read_text()  # as pip writes one; `bad = q` gets none
    assert wrapper.startswith("#!/usr/bin/env python\n")
    assert "from q.cli import run\n" in wrapper and "sys.exit(run())" in wrapper
    record = copy.files[f"{SITE}/q-2.0.dist-info/RECORD"].read_text().splitlines()
    assert record[-1] == "q-2.0.dist-info/RECORD,,"
    assert any(line.startswith("../../../bin/q-new,sha256=") for line in record)
    direct_url = json.loads(copy.files[f"{SITE}/q-2.0.dist-info/direct_url.json"].read_text())
    assert direct_url == {"url": source.as_uri(), "dir_info": {}}


def test_nothing_to_copy_and_a_missing_source_are_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    dist = _dist_info(prefix, f"{tmp_path}\n")  # a folder on sys.path that holds no `q`
    with pytest.raises(EditablePackages, match="does not exist"):
        from_dist_info(prefix, "q", "2.0", dist, [], (tmp_path / "gone").as_uri())
    with pytest.raises(EditablePackages, match="does not exist"):
        from_dist_info(prefix, "q", "2.0", dist, [], "https://example.org/q.tar.gz")
    files = [f"{SITE}/__editable__.q-2.0.pth"]
    install = from_dist_info(prefix, "q", "2.0", dist, files, tmp_path.as_uri())
    assert install.path_entries == (tmp_path.resolve(),)
    with pytest.raises(EditablePackages, match="its package folders are not known"):
        packed_copy(prefix, install, tmp_path / "work", Reporter(None))


def test_egg_links_and_easy_install_pth(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    site = prefix / SITE
    site.mkdir(parents=True)
    link = site / "gone.egg-link"
    link.write_text(f"{tmp_path / 'nowhere'}\n.")
    with pytest.raises(EditablePackages, match=r"gone\.egg-link"):
        from_egg_link(prefix, link)
    (site / "easy-install.pth").write_text(f"import sys\n{tmp_path / 'a'}\n# note\n")
    assert easy_install_pth(prefix, [tmp_path / "b"]) is None
    assert easy_install_pth(prefix, [tmp_path / "a"]) == (f"{SITE}/easy-install.pth", None)
    (site / "__editable__.old-1.pth").write_text("/old\n")
    (site / "__editable__.kept-1.pth").write_text("/kept\n")
    assert orphan_editable_files(prefix, {f"{SITE}/__editable__.kept-1.pth"}) == [
        f"{SITE}/__editable__.old-1.pth"
    ]
    install = EditableInstall("x-y", "1", tmp_path, site, tmp_path / "none", (), ())
    assert install.top_level_names() == ["x_y"]
